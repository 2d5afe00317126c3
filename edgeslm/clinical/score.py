"""Score pack questions through anything with `reset()` + `prefill(ids) -> (S, vocab) logits`: the answer
distribution (softmax over the answer tokens at the last prompt position)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeslm.clinical.pack import Question
from edgeslm.clinical.prompts import answer_token_ids, format_prompt


@dataclass(frozen=True)
class Encoded:
    question: Question
    input_ids: np.ndarray  # (S,), left-truncated to the bundle's context when longer
    answer_ids: list[int]
    truncated: bool


def encode(questions: list[Question], tokenizer, max_positions: int) -> list[Encoded]:
    cache: dict[tuple, list[int]] = {}
    out = []
    for q in questions:
        if q.labels not in cache:
            cache[q.labels] = answer_token_ids(tokenizer, q.labels)
        ids = np.asarray(tokenizer(format_prompt(q)).input_ids, dtype=np.int64)
        limit = max_positions - 1
        out.append(Encoded(q, ids[-limit:], cache[q.labels], len(ids) > limit))
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def answer_probs(runner, encoded: list[Encoded]) -> list[np.ndarray]:
    """One probability vector over each question's labels (float64)."""
    probs = []
    for item in encoded:
        runner.reset()
        last = np.asarray(runner.prefill(item.input_ids[None, :]))[-1].astype(np.float64)
        probs.append(softmax(last[item.answer_ids]))
    return probs
