"""The verify stage's verdict: metrics against the scheme's tolerance; out of tolerance is an error."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeslm.verify.metrics import VerifyMetrics
from edgeslm.verify.thresholds import Tolerance


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failures: tuple[str, ...]


def judge(metrics: VerifyMetrics, tol: Tolerance) -> Verdict:
    failures = []
    if not all(math.isfinite(v) or v == math.inf for v in (metrics.max_abs_logit, metrics.sqnr_db)):
        failures.append("the bundle's logits are not finite numbers (NaN or inf); "
                        f"max |Δlogit| {metrics.max_abs_logit}, SQNR {metrics.sqnr_db}")
    if tol.max_abs_logit is not None and metrics.max_abs_logit > tol.max_abs_logit:
        failures.append(f"max |Δlogit| {metrics.max_abs_logit:.3g} > {tol.max_abs_logit:g}")
    if metrics.sqnr_db < tol.min_sqnr_db:
        failures.append(f"logit SQNR {metrics.sqnr_db:.1f} dB < {tol.min_sqnr_db:g} dB")
    if metrics.prompt_top1 < tol.min_prompt_top1:
        failures.append(f"prompt top-1 agreement {metrics.prompt_top1:.3f} < {tol.min_prompt_top1:g}")
    if metrics.decode_top1 < tol.min_decode_top1:
        failures.append(f"decode top-1 agreement {metrics.decode_top1:.3f} < {tol.min_decode_top1:g}")
    return Verdict(not failures, tuple(failures))


def backend_verdict(metrics: VerifyMetrics, checks: dict, scheme: str) -> tuple[Verdict, dict]:
    """What `Backend.verify` returned, judged: its metrics against the scheme's tolerance plus any of its checks
    that failed; and the record of what ran (the manifest's verify entries at export, `edgeslm verify`'s)."""
    from edgeslm.verify.thresholds import tolerance_for

    verdict = judge(metrics, tolerance_for(scheme))
    if checks.get("failures"):
        verdict = Verdict(False, verdict.failures + tuple(checks["failures"]))
    record = {"runtime": checks["runtime"],
              **({"checks_run": checks["run"], "checks_not_run": checks["not_run"]} if "run" in checks else {})}
    return verdict, record
