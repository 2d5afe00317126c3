"""Decoding settings: the source's own generation_config defaults (recorded in generation.json), overridable
per run; numpy only (the app-side runtimes mirror it), the same arithmetic as transformers' logits processors:
repetition penalty (CTRL, over prompt and answer), temperature, top-k, top-p."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from edgeslm.errors import UserError


@dataclass(frozen=True)
class Sampling:
    do_sample: bool = False  # False: greedy (argmax after the repetition penalty)
    temperature: float = 1.0
    top_k: int = 0  # 0: off
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self):
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.repetition_penalty <= 0:
            raise UserError(f"bad decoding settings {asdict(self)}",
                            hint="temperature > 0, 0 < top-p <= 1, top-k >= 0, repetition penalty > 0.")

    def to_dict(self) -> dict:
        return asdict(self)

    def override(self, **changes) -> "Sampling":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def source_sampling(generation_config) -> Sampling:
    """The defaults the source model ships in its generation_config.json (transformers' own when absent)."""
    if generation_config is None:
        return Sampling()
    g = generation_config
    return Sampling(do_sample=bool(g.do_sample), temperature=float(g.temperature or 1.0), top_k=int(g.top_k or 0),
                    top_p=float(g.top_p or 1.0), repetition_penalty=float(g.repetition_penalty or 1.0))


class TokenPicker:
    """pick(logits, history) -> next token id, per the settings; seeded for reproducible sampling."""

    def __init__(self, sampling: Sampling):
        self.s = sampling
        self.rng = np.random.default_rng(sampling.seed)

    def scores(self, logits: np.ndarray, history) -> np.ndarray:
        """The processed scores (-inf where filtered out), before the softmax."""
        x = np.asarray(logits, dtype=np.float64).copy()
        if self.s.repetition_penalty != 1.0 and len(history):
            seen = np.unique(np.asarray(history, dtype=np.int64))
            x[seen] = np.where(x[seen] < 0, x[seen] * self.s.repetition_penalty, x[seen] / self.s.repetition_penalty)
        if not self.s.do_sample:
            return x
        x = x / self.s.temperature
        if 0 < self.s.top_k < x.size:
            x[x < np.sort(x)[-self.s.top_k]] = -np.inf
        if self.s.top_p < 1.0:
            order = np.argsort(x)  # ascending, as transformers: drop the low tail whose mass is <= 1 - top_p
            probs = np.exp(x[order] - x[order[-1]])
            cum = np.cumsum(probs / probs.sum())
            drop = cum <= 1 - self.s.top_p
            drop[-1] = False
            x[order[drop]] = -np.inf
        return x

    def __call__(self, logits: np.ndarray, history) -> int:
        x = self.scores(logits, history)
        if not self.s.do_sample:
            return int(np.argmax(x))
        p = np.exp(x - x.max())
        return int(self.rng.choice(x.size, p=p / p.sum()))
