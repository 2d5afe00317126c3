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
    return 10.0 * np.log10(signal / error_energy)


def measure(runner, references: list[PromptReference]) -> VerifyMetrics:
    """Prefill each prompt, then decode the reference's own continuation token by token (teacher-forced),
    so the decode path (KV cache) is checked at the positions the reference actually visits."""
    max_abs, err_energy, ref_cat = 0.0, 0.0, []
    prompt_hits = prompt_total = decode_hits = decode_total = 0
    for ref in references:
        runner.reset()
        got = runner.prefill(ref.input_ids[None, :])
        steps = [got]
        expected = [ref.prompt_logits]
        prompt_hits += int((got.argmax(-1) == ref.prompt_logits.argmax(-1)).sum())
        prompt_total += len(ref.input_ids)
        for token, want in zip(ref.continuation, ref.decode_logits):
            logits = runner.decode(int(token))
            decode_hits += int(logits.argmax() == want.argmax())
            decode_total += 1
            steps.append(logits[None])
            expected.append(want[None])
        got_all, want_all = np.concatenate(steps), np.concatenate(expected)
        diff = got_all.astype(np.float64) - want_all
        max_abs = float(np.max([max_abs, np.abs(diff).max()]))  # np.max keeps a NaN (builtin max drops it)
        err_energy += float((diff ** 2).sum())
        ref_cat.append(want_all)
    return VerifyMetrics(
        prompts=len(references), prompt_positions=prompt_total, decode_steps=decode_total,
        max_abs_logit=max_abs, sqnr_db=sqnr_db(np.concatenate(ref_cat), err_energy),
        prompt_top1=prompt_hits / max(prompt_total, 1),
        decode_top1=decode_hits / max(decode_total, 1) if decode_total else 1.0,
    )
