"""Clinical budgets per quant scheme: one place, each backed by a measurement (issue #14 note, BENCHMARKS.md).

Two kinds, both must hold:
- answer agreement: the bundle picks the same answer as the float reference on at least this share of the
  pack's questions;
- distribution: how far the answer probabilities move. A 135M model at chance mostly picks one letter, so
  agreement alone passes a bundle whose confidence has drifted; the largest change of any option's probability
  and the mean KL divergence of the answer distribution catch it. Measured on MMLU clinical knowledge (150
  questions) with an independent script: the ORT GenAI builder's int4 bundle of the default model moves an
  option by 0.376 (agreement 0.993), ours by 0.057.
Never loosen one to pass an export.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeslm.errors import InternalError


@dataclass(frozen=True)
class ClinicalBudget:
    min_agreement: float
    max_prob_change: float
    max_mean_kl: float  # nats
    why: str


BUDGETS: dict[str, ClinicalBudget] = {
    "fp32": ClinicalBudget(0.99, 0.01, 1e-5, "same math; float32 reassociation only"),
    "fp16": ClinicalBudget(0.99, 0.10, 2e-3, "float16 rounding"),
    "int8": ClinicalBudget(0.99, 0.10, 2e-3, "8-bit weights"),
    "int4": ClinicalBudget(0.97, 0.20, 1e-2, "4-bit weights"),
}


def budget_for(scheme: str) -> ClinicalBudget:
    if scheme not in BUDGETS:
        raise InternalError(f"no clinical budget for quant scheme {scheme!r}",
                            hint="Add one to edgeslm/clinical/budgets.py with the measurement behind it.")
    return BUDGETS[scheme]
