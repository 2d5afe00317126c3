"""Clinical budgets per quant scheme: one place, each backed by a measurement (issue #14 note, BENCHMARKS.md).

Two kinds, both must hold:
- answer agreement: the bundle picks the same answer as the float reference on at least this share of the
  pack's questions;
- distribution: how far the answer probabilities move. A 135M model at chance mostly picks one letter, so
  agreement alone passes a bundle whose confidence has drifted; the largest change of any option's probability
  and the mean KL divergence of the answer distribution catch it. Measured on MMLU clinical knowledge (150
  questions) with an independent script: the ORT GenAI builder's int4 bundle of the default model moves an
  option by 0.376 (agreement 0.993), ours by 0.057: the int4 budget (0.20) sits between them.
Measured with this code on the briefly trained tiny llama of the tests (10 questions per set, 40 in all; its
reference guesses, 0.20 accuracy, modal answer on 68 %): ONNX fp32 agreement 1.000, max change < 1e-6,
KL < 1e-6; int8 1.000, max change 0.011, mean KL 4.1e-5; int4 0.875 (fails), max change 0.126, mean KL 3.7e-3.
fp16 is bounded like int8 (no fp16 clinical measurement yet); the default model's own figures are in
BENCHMARKS.md ("Clinical gate"). Never loosen one to pass an export.
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
