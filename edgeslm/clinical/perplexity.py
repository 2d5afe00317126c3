"""Free text: perplexity of PubMedQA abstracts (the pack's contexts), bundle over reference."""

from __future__ import annotations

import math

import numpy as np

from edgeslm.clinical.pack import Question

ABSTRACT_TOKENS = 256


def abstract_ids(questions: list[Question], tokenizer, max_positions: int, count: int) -> list[np.ndarray]:
    texts = [q.context for q in questions if q.context][:count]
    limit = min(ABSTRACT_TOKENS, max_positions)
    return [np.asarray(tokenizer(t).input_ids[:limit], dtype=np.int64) for t in texts]


def mean_nll(runner, sequences: list[np.ndarray]) -> float:
    """Token-weighted mean negative log-likelihood (nats) of each sequence after its first token."""
    total, count = 0.0, 0
    for ids in sequences:
        runner.reset()
        logits = np.asarray(runner.prefill(ids[None, :]), dtype=np.float64)[:-1]
        top = logits.max(-1, keepdims=True)
        logz = (top[:, 0] + np.log(np.exp(logits - top).sum(-1)))
        total += float((logz - logits[np.arange(len(ids) - 1), ids[1:]]).sum())
        count += len(ids) - 1
    return total / max(count, 1)


def perplexity_report(runner, reference, sequences: list[np.ndarray]) -> dict:
    ref, got = mean_nll(reference, sequences), mean_nll(runner, sequences)
    return {"abstracts": len(sequences), "tokens": int(sum(len(s) - 1 for s in sequences)),
            "reference": round(math.exp(ref), 4), "bundle": round(math.exp(got), 4),
            "ratio": round(math.exp(got - ref), 6)}
