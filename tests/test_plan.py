"""`edgeslm plan`: rows per format x quant from the config alone, consistent with edgeslm.fit; offline, fast."""

import json

import pytest

from edgeslm.catalog import get_entry
from cli_runner import edgeslm
from edgeslm.errors import UserError
from edgeslm.fit import MIB, ModelFacts, check_fit, estimate
from edgeslm.plan import (DECODE_BANDWIDTH_EFFICIENCY, ENERGY_LABEL, ENERGY_METHOD, STATUS_NOT_BUILT, STATUS_OK,
                          decode_bytes_per_token, make_plan, plan_facts, prefill_flops)
from edgeslm.quant import get_scheme
from edgeslm.targets import get_target


@pytest.fixture(scope="module")
def biomistral_android():
    return make_plan("biomistral-7b", "android", 2048)


def _row(plan, fmt, quant):
    rows = [r for r in plan.rows if (r.format, r.quant) == (fmt, quant)]
    assert len(rows) == 1, [(r.format, r.quant) for r in plan.rows]
    return rows[0]


def test_biomistral_android_rows_match_fit(biomistral_android):
    plan = biomistral_android
    target = get_target("android")
    facts = ModelFacts.from_catalog(get_entry("biomistral-7b"))
    assert {r.quant for r in plan.rows if r.format == "onnx"} == {"fp32", "int8", "int4"}
    assert ("onnx", "fp16") in {(s["format"], s["quant"]) for s in plan.skipped}  # the onnx backend refuses it
    # every format x quant is either a row or skipped with the backend's reason, never silently dropped
    shown = {(r.format, r.quant) for r in plan.rows} | {(s["format"], s["quant"]) for s in plan.skipped}
    assert shown == {(f, q) for f in target.formats for q in ("fp32", "fp16", "int8", "int4")}
    assert all(s["reason"] for s in plan.skipped)
    for quant in ("fp32", "int8", "int4"):
        row = _row(plan, "onnx", quant)
        fit = estimate(facts, get_scheme(quant), 2048)
        verdict = check_fit(fit, target)
        assert row.status == STATUS_OK
        assert row.bundle_mb == pytest.approx(fit.bundle_bytes / MIB, abs=0.1)
        assert row.runtime_ram_mb == pytest.approx(fit.runtime_bytes / MIB, abs=0.1)
        assert (row.fits, row.margin_mb) == (verdict.fits, verdict.margin_mb)
        assert row.runtime_ram_mb == pytest.approx(
            row.weights_mb + row.kv_cache_mb + row.activations_mb + row.runtime_overhead_mb, abs=0.3)
    assert not _row(plan, "onnx", "fp32").fits and _row(plan, "onnx", "fp32").margin_mb < 0


def test_unbuilt_format_is_shown_not_built(biomistral_android, monkeypatch):
    import edgeslm.backends
    from edgeslm.registry import Registry

    for row in biomistral_android.rows:  # registered backends are "ok", whatever other agents have added
        assert row.status == (STATUS_OK if row.format in edgeslm.backends.BACKENDS else STATUS_NOT_BUILT)
    only_onnx = Registry("format", "edgeslm list formats")
    only_onnx.add("onnx", edgeslm.backends.BACKENDS.get("onnx"))
    monkeypatch.setattr(edgeslm.backends, "BACKENDS", only_onnx)
    plan = make_plan("biomistral-7b", "android", 2048)
    rows = [r for r in plan.rows if r.format == "executorch"]
    assert {r.quant for r in rows} == {"fp32", "fp16", "int8", "int4"}
    assert all(r.status == STATUS_NOT_BUILT for r in rows)


def test_default_model_fits_android_at_int4():
    plan = make_plan(None, "android", 2048)
    row = _row(plan, "onnx", "int4")
    assert row.fits and row.margin_mb > 0


def test_decode_speed_falls_as_bytes_grow(biomistral_android):
    rows = {q: _row(biomistral_android, "onnx", q) for q in ("int4", "int8", "fp32")}
    assert rows["int4"].decode_bytes_per_token < rows["int8"].decode_bytes_per_token \
        < rows["fp32"].decode_bytes_per_token
    assert rows["int4"].decode_tok_s > rows["int8"].decode_tok_s > rows["fp32"].decode_tok_s > 0


def test_roofline_formula():
    facts = ModelFacts.from_catalog(get_entry("smollm2-135m"))
    target = get_target("linux")
    plan = plan_facts(facts, target, model_label="m", facts_source="catalog", max_seq_len=512,
                      prompt_len=100, gen_len=20)
    row = _row(plan, "onnx", "int4")
    fit = estimate(facts, get_scheme("int4"), 512)
    nbytes = decode_bytes_per_token(facts, get_scheme("int4"), 512, 110)
    assert row.decode_bytes_per_token == nbytes
    # weights minus all but one row of the embedding table, plus KV for 110 positions
    assert fit.weights_bytes - 20 * MIB < nbytes < fit.weights_bytes + fit.kv_cache_bytes
    assert row.decode_tok_s == pytest.approx(15.0e9 * DECODE_BANDWIDTH_EFFICIENCY / nbytes, rel=1e-3)
    assert prefill_flops(facts, 100) == 2.0 * (facts.linear_params + facts.vocab * facts.hidden) * 100
    assert row.energy_per_token.joules == pytest.approx(target.power.active_w / row.decode_tok_s, rel=1e-2)
    busy = row.ttft_s + 20 / row.decode_tok_s
    assert row.energy_per_answer.joules == pytest.approx(target.power.active_w * busy, rel=1e-2)


def test_energy_labelled_estimated(biomistral_android):
    for row in biomistral_android.rows:
        for energy in (row.energy_per_token, row.energy_per_answer):
            assert energy.label == ENERGY_LABEL == "estimated"
            assert energy.method == ENERGY_METHOD == "target power figure x predicted busy time"
    assert biomistral_android.assumptions["decode_efficiency_calibrated"] is False


def test_bad_lengths():
    with pytest.raises(UserError, match="does not fit in --max-seq-len"):
        make_plan("biomistral-7b", "android", 100, prompt_len=128, gen_len=64)


def test_cli_table_and_help():
    result = edgeslm("plan", "--model", "biomistral-7b", "--target", "android")
    assert result.exit_code == 0, result.output
    assert "onnx (ok)" in result.output and "executorch (" in result.output and "estimated" in result.output
    for verdict in ("no -1,715", "no -25,023"):  # int4 and fp32 at 2048 tokens do not fit a 4 GB phone budget
        assert verdict in result.output
    assert "uncalibrated" in result.output
    help_text = edgeslm("plan", "--help").output
    assert "edgeslm plan --model biomistral-7b --target android" in help_text


def test_cli_unknown_target():
    result = edgeslm("plan", "--model", "biomistral-7b", "--target", "andriod")
    assert result.exit_code == UserError.exit_code == 2, result.output
    assert "Error:" in result.output and "Did you mean 'android'" in result.output


def test_cli_json():
    result = edgeslm("--json", "plan", "--model", "biomistral-7b", "--target", "android")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["target"] == "android" and data["model"] == "biomistral-7b"
    onnx = {r["quant"]: r for r in data["rows"] if r["format"] == "onnx"}
    assert set(onnx) == {"fp32", "int8", "int4"}
    assert onnx["fp32"]["fits"] is False
    assert onnx["int4"]["energy_per_token"]["label"] == "estimated"
    assert "nothing here is measured" in data["assumptions"]["basis"]
