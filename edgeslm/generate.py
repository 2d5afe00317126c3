"""The reference generation loop over a bundle: the bundle's decoding settings (greedy unless its source samples;
edgeslm/sampling.py), streaming, stops at EOS.

The demo apps mirror exactly this loop: tokenize (chat template when the model has one), prefill,
then one token at a time through the KV cache until an EOS id or the token budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from edgeslm.errors import UserError


@dataclass
class Generation:
    prompt_tokens: int
    tokens: list[int]
    text: str
    stopped_at_eos: bool


def check_prompt(prompt: str) -> None:
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the prompt is not valid UTF-8 text",
                        hint="Pass the prompt as UTF-8 (check the terminal's or the file's encoding).") from None


def prompt_ids(tokenizer, prompt: str, use_chat_template: bool) -> np.ndarray:
    check_prompt(prompt)
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=True, return_dict=False)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
    else:
        ids = tokenizer(prompt).input_ids
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        raise UserError("the prompt is empty (no tokens to start from)",
                        hint="Pass some text with --prompt (with --raw nothing is added around it).")
    return ids


def greedy_tokens(runner, ids: np.ndarray, max_new_tokens: int, eos: set[int], max_positions: int,
                  pick: Callable[[np.ndarray, list[int]], int] | None = None) -> Iterator[int]:
    """Argmax each step, or `pick(logits, history)` (a sampling.TokenPicker) when given."""
    if len(ids) >= max_positions:
        raise UserError(f"the prompt has {len(ids)} tokens; this bundle serves at most {max_positions}",
                        hint="Shorten the prompt, or re-export with a larger --max-seq-len.")
    runner.reset()
    logits = runner.prefill(ids[None, :])[-1]
    budget = min(max_new_tokens, max_positions - len(ids))
    history = [int(i) for i in ids]
    for step in range(budget):
        token = int(np.argmax(logits)) if pick is None else pick(logits, history)
        history.append(token)
        yield token
        if token in eos or step == budget - 1:
            return
        logits = runner.decode(token)


def generate(bundle, prompt: str, max_new_tokens: int = 128, use_chat_template: bool = True,
             on_text: Callable[[str], None] | None = None, sampling=None) -> Generation:
    """sampling: a sampling.Sampling (None: greedy)."""
    from edgeslm.sampling import TokenPicker

    tok = bundle.tokenizer
    ids = prompt_ids(tok, prompt, use_chat_template)
    eos = set(bundle.generation.get("eos_token_ids") or [])
    out: list[int] = []
    shown = ""
    pick = TokenPicker(sampling) if sampling is not None else None
    for token in greedy_tokens(bundle.runner, ids, max_new_tokens, eos, bundle.generation["max_positions"], pick):
        if token in eos:
            return Generation(len(ids), out, shown, True)
        out.append(token)
        text = tok.decode(out, skip_special_tokens=True)
        if on_text and text.startswith(shown) and not text.endswith("\ufffd"):
            on_text(text[len(shown):])
            shown = text
    final = tok.decode(out, skip_special_tokens=True)
    if on_text and final.startswith(shown):
        on_text(final[len(shown):])
    return Generation(len(ids), out, final, False)
