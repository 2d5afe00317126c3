"""How a pack question becomes a prompt, and which token answers it (the letter, or yes/no/maybe)."""

from __future__ import annotations

from edgeslm.clinical.pack import Question
from edgeslm.errors import UnsupportedError

ANSWER_CUE = "Answer:"


def format_prompt(q: Question) -> str:
    """Plain completion format (as MMLU-style harnesses score base and instruct models alike)."""
    lines = []
    if q.context:
        lines.append(f"Context: {q.context}")
    lines.append(f"Question: {q.question}")
    if q.choices:
        lines += [f"{label}. {text}" for label, text in zip(q.labels, q.choices)]
        lines.append(ANSWER_CUE)
    else:
        lines.append(f"{ANSWER_CUE[:-1]} ({', '.join(q.labels[:-1])} or {q.labels[-1]}):")
    return "\n".join(lines)


def answer_token_ids(tokenizer, labels: tuple[str, ...]) -> list[int]:
    """The first token the model would emit for " LABEL" right after the answer cue, one per label."""
    cue = tokenizer(ANSWER_CUE, add_special_tokens=False).input_ids
    ids = []
    for label in labels:
        full = tokenizer(f"{ANSWER_CUE} {label}", add_special_tokens=False).input_ids
        if full[: len(cue)] != cue or len(full) == len(cue):
            raise UnsupportedError(f"the tokenizer does not split {ANSWER_CUE!r} + {label!r} at the cue",
                                   hint="The clinical gate scores the answer token after the prompt; this "
                                        "tokenizer merges it with the cue.")
        ids.append(full[len(cue)])
    unk = getattr(tokenizer, "unk_token_id", None)
    if len(set(ids)) != len(ids) or (unk is not None and unk in ids):
        raise UnsupportedError(f"the tokenizer cannot tell the answers {', '.join(labels)} apart "
                               f"(token ids {ids})", hint="The clinical gate needs one distinct token per answer.")
    return ids
