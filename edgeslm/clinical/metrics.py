"""Numbers that compare two answer distributions per question: agreement, accuracy, KL, largest probability
change, the modal-letter baseline, and Wilson intervals (so 0.98 on 50 questions is not read as proof)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-12) -> float:
    """KL(p || q) in nats: p the reference, q the bundle."""
    p = np.clip(np.asarray(p, np.float64), eps, None)
    q = np.clip(np.asarray(q, np.float64), eps, None)
    return float((p * np.log(p / q)).sum())


def max_prob_change(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).max())


@dataclass(frozen=True)
class AnswerMetrics:
    questions: int
    agreement: float
    agreement_ci95: tuple[float, float]
    reference_accuracy: float
    reference_accuracy_ci95: tuple[float, float]
    bundle_accuracy: float
    chance_accuracy: float  # mean of 1/(number of options)
    modal_rate: float  # how often the reference picks its most frequent answer: agreement's floor for a guesser
    modal_answer: str
    source_at_chance: bool  # the reference's accuracy interval reaches down to chance
    mean_kl: float
    max_kl: float
    max_prob_change: float
    max_prob_change_at: str

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else [round(x, 6) for x in v] if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


def compare(keys: list[str], labels: list[tuple[str, ...]], gold: list[str], ref: list[np.ndarray],
            got: list[np.ndarray]) -> tuple[AnswerMetrics, list[dict]]:
    """Metrics over the questions, and the questions whose answer flipped (reference -> bundle)."""
    n = len(keys)
    ref_pick = [lab[int(np.argmax(p))] for lab, p in zip(labels, ref)]
    got_pick = [lab[int(np.argmax(q))] for lab, q in zip(labels, got)]
    agree = sum(a == b for a, b in zip(ref_pick, got_pick))
    ref_right = sum(a == g for a, g in zip(ref_pick, gold))
    kls = [kl_divergence(p, q) for p, q in zip(ref, got)]
    changes = [max_prob_change(p, q) for p, q in zip(ref, got)]
    worst = int(np.argmax(changes)) if n else 0
    modal, modal_count = Counter(ref_pick).most_common(1)[0] if n else ("", 0)
    chance = float(np.mean([1.0 / len(lab) for lab in labels])) if n else 0.0
    acc_ci = wilson(ref_right, n)
    flipped = [{"question": keys[i], "reference": ref_pick[i], "bundle": got_pick[i], "gold": gold[i],
                "reference_p": round(float(ref[i].max()), 4), "bundle_p": round(float(got[i].max()), 4)}
               for i in range(n) if ref_pick[i] != got_pick[i]]
    metrics = AnswerMetrics(
        questions=n, agreement=agree / max(n, 1), agreement_ci95=wilson(agree, n),
        reference_accuracy=ref_right / max(n, 1), reference_accuracy_ci95=acc_ci,
        bundle_accuracy=sum(a == g for a, g in zip(got_pick, gold)) / max(n, 1), chance_accuracy=chance,
        modal_rate=modal_count / max(n, 1), modal_answer=modal, source_at_chance=acc_ci[0] <= chance,
        mean_kl=float(np.mean(kls)) if n else 0.0, max_kl=float(max(kls, default=0.0)),
        max_prob_change=changes[worst] if n else 0.0, max_prob_change_at=keys[worst] if n else "")
    return metrics, flipped
