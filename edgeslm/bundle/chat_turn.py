"""One user turn of the chat template as plain text: what comes before the user's message and what after it
(the generation prompt included), so that a runtime without a Jinja interpreter (runtime/ in C++, the apps)
renders a single-turn prompt exactly as `apply_chat_template` does, for any template family (ChatML, Llama 3,
Gemma, Phi-3, Mistral [INST]).

Derived at export by rendering the template around a sentinel message, and kept only if a probe message renders
to prefix + message + suffix; templates that do more with the message than insert it (or `trim` it) get none, and
the runtimes then ask for a raw prompt. So do templates that render today's date (Llama 3.1/3.2's
`strftime_now`): a fixed prefix would freeze the export day, where `edgeslm run` renders the current one.
"""

from __future__ import annotations

SENTINEL = "\ue000edgeslm-user-turn\ue000"
PROBE = "What are the first-line treatments for hypertension in adults?"


def _render(tokenizer, content: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)


def chat_turn(tokenizer) -> dict | None:
    """{"prefix", "suffix", "trim"} for generation.json, or None (no template, or one that is not a substitution)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template or "strftime_now" in template:
        return None
    padded = f" \n{SENTINEL}\n "
    try:
        text = _render(tokenizer, padded)
        probe = _render(tokenizer, f" {PROBE} ")
    except Exception:  # a template error (e.g. one that insists on a system turn): no plain-text turn
        return None
    trim = padded not in text
    cut = SENTINEL if trim else padded
    if text.count(cut) != 1:
        return None
    prefix, suffix = text.split(cut)
    if probe != prefix + (PROBE if trim else f" {PROBE} ") + suffix:
        return None
    return {"prefix": prefix, "suffix": suffix, "trim": trim}


def render_turn(turn: dict, message: str) -> str:
    """What the runtimes do with generation.json's chat_turn (the Python mirror the tests compare against)."""
    return turn["prefix"] + (message.strip() if turn["trim"] else message) + turn["suffix"]
