"""Clinical metrics and budgets with numbers checkable by hand."""

import math

import numpy as np
import pytest

from edgeslm.clinical.budgets import BUDGETS, ClinicalBudget, budget_for
from edgeslm.clinical.gate import judge_clinical
from edgeslm.clinical.metrics import compare, kl_divergence, max_prob_change, wilson
from edgeslm.errors import InternalError


def test_wilson_interval_matches_the_formula_by_hand():
    # 5/10: centre (0.5 + 1.96²/20) / (1 + 1.96²/10) = 0.5, half-width 1.96·sqrt(0.025 + 0.0096)/1.384 = 0.2634
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)  # 10/10 is not proof of 1.0
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    lo, hi = wilson(49, 50)  # "0.98 on 50 questions": the interval reaches down to 0.895
    assert lo == pytest.approx(0.8950, abs=1e-3) and hi == pytest.approx(0.9965, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_kl_and_largest_probability_change():
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    assert kl_divergence(p, q) == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))  # 0.5108
    assert kl_divergence(p, p) == 0.0
    assert max_prob_change(p, q) == pytest.approx(0.4)
    assert max_prob_change([0.2, 0.3, 0.5], [0.25, 0.2, 0.55]) == pytest.approx(0.1)


def _case():
    keys = ["s/1", "s/2", "s/3", "s/4"]
    labels = [("A", "B", "C", "D")] * 3 + [("yes", "no", "maybe")]
    gold = ["A", "B", "A", "no"]
    ref = [np.array([0.7, 0.1, 0.1, 0.1]), np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.6, 0.2, 0.1, 0.1]),
           np.array([0.5, 0.3, 0.2])]
    got = [np.array([0.7, 0.1, 0.1, 0.1]), np.array([0.2, 0.5, 0.2, 0.1]), np.array([0.6, 0.2, 0.1, 0.1]),
           np.array([0.5, 0.3, 0.2])]
    return keys, labels, gold, ref, got


def test_compare_counts_agreement_accuracy_modal_rate_and_flips():
    m, flipped = compare(*_case())
    assert m.questions == 4 and m.agreement == 0.75
    assert m.reference_accuracy == 0.5  # A right, A wrong (gold B), A right, yes wrong
    assert m.bundle_accuracy == 0.75  # the flip to B is right
    assert m.modal_answer == "A" and m.modal_rate == 0.75
    assert m.chance_accuracy == pytest.approx((0.25 * 3 + 1 / 3) / 4)
    assert m.max_prob_change == pytest.approx(0.2) and m.max_prob_change_at == "s/2"
    assert m.mean_kl == pytest.approx(kl_divergence([0.4, 0.3, 0.2, 0.1], [0.2, 0.5, 0.2, 0.1]) / 4)
    assert m.source_at_chance  # 2/4 right: the Wilson interval reaches below chance
    assert flipped == [{"question": "s/2", "reference": "A", "bundle": "B", "gold": "B",
                        "reference_p": 0.4, "bundle_p": 0.5}]


def test_the_gate_names_flipped_questions_and_each_budget():
    m, flipped = compare(*_case())
    failures = judge_clinical(m, ClinicalBudget(0.97, 0.1, 1.0, "test"), flipped)
    assert len(failures) == 2
    assert "agreement 0.750" in failures[0] and "flipped: s/2 (A->B)" in failures[0]
    assert "max option-probability change 0.200 (at s/2) > 0.1" in failures[1]
    assert judge_clinical(m, ClinicalBudget(0.5, 0.3, 1.0, "test"), flipped) == []
    failures = judge_clinical(m, ClinicalBudget(0.5, 0.3, 1e-3, "test"), flipped)
    assert "mean KL" in failures[0] and "flipped: s/2" in failures[1]  # distribution over budget: flips shown


def test_budgets_are_ordered_by_precision_and_unknown_schemes_are_an_error():
    assert BUDGETS["int8"].min_agreement >= 0.99 and BUDGETS["fp16"].min_agreement >= 0.99
    assert BUDGETS["int4"].min_agreement >= 0.97
    # the builder's int4 bundle of the default model moved an option by 0.376: it must fail; ours (0.057) pass
    assert 0.057 < BUDGETS["int4"].max_prob_change < 0.376
    assert BUDGETS["fp32"].max_prob_change <= BUDGETS["int8"].max_prob_change <= BUDGETS["int4"].max_prob_change
    with pytest.raises(InternalError):
        budget_for("int2")
