"""The clinical gate on the embedded default model (SmolLM2-135M-Instruct). Slow: it reuses the session's default
ONNX int4 bundle (tests/conftest.py: exported once, with --clinical --clinical-n 10)."""

import json

import pytest

from edgeslm.clinical.budgets import budget_for
from test_real_model import needs_default

pytestmark = pytest.mark.slow


@needs_default
def test_default_onnx_int4_bundle_passes_the_clinical_gate(default_onnx_bundle):
    out, proc = default_onnx_bundle
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Clinical (PASS, pack v1, 40 questions, host onnx)" in proc.stdout
    clinical = json.loads((out / "manifest.json").read_text())["clinical"]
    m, budget = clinical["metrics"], budget_for("int4")
    assert clinical["passed"] and m["questions"] == 40
    assert m["agreement"] >= budget.min_agreement and m["max_prob_change"] <= budget.max_prob_change
    assert 0.9 < clinical["perplexity"]["ratio"] < 1.2
    # a 135M model guesses on exam questions: the report must say so rather than sell agreement as safety
    if m["source_at_chance"]:
        assert "answers at chance" in proc.stdout
