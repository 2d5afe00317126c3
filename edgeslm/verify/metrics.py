"""Compare a runner (any backend) against the recorded reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgeslm.verify.reference import PromptReference


@dataclass(frozen=True)
class VerifyMetrics:
    prompts: int
    prompt_positions: int
    decode_steps: int
    max_abs_logit: float
    sqnr_db: float
    prompt_top1: float
    decode_top1: float

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def sqnr_db(reference: np.ndarray, error_energy: float) -> float:
    signal = float((reference.astype(np.float64) ** 2).sum())
    if error_energy == 0.0:
        return float("inf")
    if not np.isfinite(error_energy):
        return float("-inf")
    return 10.0 * np.log10(signal / error_energy)


def teacher_forced(runner, ref: PromptReference) -> PromptReference:
    """The runner's logits along the reference's own tokens: prefill the prompt, then decode the reference's
    continuation token by token, so the decode path (KV cache) is checked at the positions it visits."""
    runner.reset()
    prompt_logits = runner.prefill(ref.input_ids[None, :])
    steps = [runner.decode(int(token)) for token in ref.continuation]
    decode = np.stack(steps) if steps else np.zeros((0, prompt_logits.shape[-1]), np.float32)
    return PromptReference(ref.prompt, ref.input_ids, prompt_logits, ref.continuation, decode)


def score(got: list[PromptReference], want: list[PromptReference]) -> VerifyMetrics:
    """Compare logits recorded along the same tokens (same prompts, same continuations)."""
    max_abs, err_energy, ref_cat = 0.0, 0.0, []
    prompt_hits = prompt_total = decode_hits = decode_total = 0
    for g, w in zip(got, want, strict=True):
        prompt_hits += int((g.prompt_logits.argmax(-1) == w.prompt_logits.argmax(-1)).sum())
        prompt_total += len(w.input_ids)
        decode_hits += int((g.decode_logits.argmax(-1) == w.decode_logits.argmax(-1)).sum())
        decode_total += len(w.decode_logits)
        got_all = np.concatenate([g.prompt_logits, g.decode_logits])
        want_all = np.concatenate([w.prompt_logits, w.decode_logits])
        diff = got_all.astype(np.float64) - want_all
        if not np.isfinite(diff).all():  # NaN or inf anywhere: infinitely far, never "max |Δ| 0"
            max_abs, err_energy = float("inf"), float("inf")
        else:
            max_abs = max(max_abs, float(np.abs(diff).max()))
            err_energy += float((diff ** 2).sum())
        ref_cat.append(want_all)
    return VerifyMetrics(
        prompts=len(want), prompt_positions=prompt_total, decode_steps=decode_total,
        max_abs_logit=max_abs, sqnr_db=sqnr_db(np.concatenate(ref_cat), err_energy),
        prompt_top1=prompt_hits / max(prompt_total, 1),
        decode_top1=decode_hits / max(decode_total, 1) if decode_total else 1.0,
    )


def measure(runner, references: list[PromptReference]) -> VerifyMetrics:
    """A runner (any backend) against the recorded reference, teacher-forced along its continuation."""
    return score([teacher_forced(runner, ref) for ref in references], references)
