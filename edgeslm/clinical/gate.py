"""The clinical verdict: answer metrics against the scheme's budget; failures name the flipped questions."""

from __future__ import annotations

from edgeslm.clinical.budgets import ClinicalBudget
from edgeslm.clinical.metrics import AnswerMetrics

SHOWN_FLIPS = 5


def describe_flips(flipped: list[dict]) -> str:
    shown = ", ".join(f"{f['question']} ({f['reference']}->{f['bundle']})" for f in flipped[:SHOWN_FLIPS])
    more = f" and {len(flipped) - SHOWN_FLIPS} more" if len(flipped) > SHOWN_FLIPS else ""
    return f"flipped: {shown}{more}" if flipped else "no answer flipped"


def judge_clinical(m: AnswerMetrics, budget: ClinicalBudget, flipped: list[dict]) -> list[str]:
    failures = []
    if m.agreement < budget.min_agreement:
        lo, hi = m.agreement_ci95
        failures.append(f"clinical answer agreement {m.agreement:.3f} (95% CI {lo:.3f}-{hi:.3f}, "
                        f"{m.questions} questions) < {budget.min_agreement:g}; {describe_flips(flipped)}")
    if m.max_prob_change > budget.max_prob_change:
        failures.append(f"clinical max option-probability change {m.max_prob_change:.3f} (at {m.max_prob_change_at}) "
                        f"> {budget.max_prob_change:g}")
    if m.mean_kl > budget.max_mean_kl:
        failures.append(f"clinical mean KL of the answer distribution {m.mean_kl:.2e} > {budget.max_mean_kl:g}")
    if failures and flipped and m.agreement >= budget.min_agreement:
        failures.append(f"clinical {describe_flips(flipped)}")
    return failures
