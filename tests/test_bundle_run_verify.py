"""Bundles: running them, integrity, re-verification, the verification gate and atomic writes."""

import json
import shutil

import numpy as np
import pytest

from edgeslm.bundle.manifest import sha256
from edgeslm.generate import greedy_tokens
from edgeslm.pipeline.config import ExportConfig
from edgeslm.pipeline.export import run_export
from edgeslm.pipeline.progress import StageLog
from test_cli_bad_input import USER, VERIFY, assert_error, edgeslm, leftovers


def test_run_generates_from_a_bundle(exported):
    bundle = exported("llama", "int4").bundle
    result = edgeslm("--json", "run", str(bundle), "--prompt", "what are the symptoms of diabetes?", "-n", "12")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ok"] and payload["prompt_tokens"] > 3
    assert 1 <= payload["tokens"] <= 12


def test_run_streams_text(exported):
    result = edgeslm("run", str(exported("gpt2", "fp32").bundle), "--prompt", "the capital of france is", "-n", "8",
                     "--raw")
    assert result.exit_code == 0 and "tokens in" in result.output


class _ScriptedRunner:
    """Logits that pick tokens 5, 6, then EOS (2): checks the loop's stopping rule, not a model."""

    def __init__(self):
        self.calls = []

    def reset(self):
        self.calls.append("reset")

    def _logits(self, token):
        out = np.zeros(10, dtype=np.float32)
        out[token] = 1.0
        return out

    def prefill(self, ids):
        self.calls.append(("prefill", ids.shape[1]))
        return np.stack([self._logits(5)] * ids.shape[1])

    def decode(self, token):
        self.calls.append(("decode", token))
        return self._logits({5: 6, 6: 2}[token])


def test_greedy_loop_stops_at_eos_and_at_the_budget():
    runner = _ScriptedRunner()
    assert list(greedy_tokens(runner, np.array([1, 3, 4]), 50, {2}, 128)) == [5, 6, 2]
    assert runner.calls == ["reset", ("prefill", 3), ("decode", 5), ("decode", 6)]
    assert list(greedy_tokens(_ScriptedRunner(), np.array([1, 3, 4]), 2, {2}, 128)) == [5, 6]
    assert list(greedy_tokens(_ScriptedRunner(), np.array([1, 3, 4]), 50, {2}, 4)) == [5]  # context is full


def test_tampered_bundle_is_refused(exported, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(exported("llama", "int8").bundle, bundle)
    data = bytearray((bundle / "model.onnx.data").read_bytes())
    data[100] ^= 0xFF
    (bundle / "model.onnx.data").write_bytes(bytes(data))
    assert_error(edgeslm("run", str(bundle), "--prompt", "hi"), USER, "does not match its manifest",
                 "model.onnx.data")


def test_verify_command_passes_then_catches_a_swapped_model(exported, tiny_model_dir, tmp_path):
    good = exported("mistral", "fp32").bundle
    result = edgeslm("verify", str(good))
    assert result.exit_code == 0 and "PASS" in result.output, result.output

    # Another mistral's weights in the same bundle, hashes updated so the integrity check passes:
    # only the numbers can tell, and they must.
    from tiny import save_tiny_model
    from edgeslm.archs import ARCHS

    other_src = save_tiny_model(ARCHS.get("mistral").tiny_config(), tmp_path / "other", seed=1, train_steps=60)
    other = run_export(ExportConfig(output=tmp_path / "ob", target="linux", model=str(other_src), quant="fp32",
                                    max_seq_len=128), StageLog(quiet=True)).bundle
    swapped = tmp_path / "swapped"
    shutil.copytree(good, swapped)
    shutil.copy(other / "model.onnx.data", swapped / "model.onnx.data")
    manifest = json.loads((swapped / "manifest.json").read_text())
    for record in manifest["files"]:
        record["sha256"] = sha256(swapped / record["name"])
    (swapped / "manifest.json").write_text(json.dumps(manifest))
    result = edgeslm("verify", str(swapped))
    assert result.exit_code == VERIFY and "FAIL" in result.output, result.output


def test_out_of_tolerance_export_is_an_error_and_publishes_nothing(tiny_model_dir, tmp_path, monkeypatch):
    from edgeslm.verify import thresholds

    strict = thresholds.Tolerance(None, 200.0, 1.0, 1.0, "test: tighter than any int4 export can be")
    monkeypatch.setitem(thresholds.TOLERANCES, "int4", strict)
    args = ["export", "--model", str(tiny_model_dir("qwen2")), "--target", "linux", "--max-seq-len", "64"]
    result = edgeslm(*args, "-o", str(tmp_path / "o"))
    assert_error(result, VERIFY, "drifted", "SQNR", "No bundle was written")
    assert not (tmp_path / "o").exists() and not leftovers(tmp_path)

    result = edgeslm(*args, "-o", str(tmp_path / "kept"), "--keep-unverified")
    assert result.exit_code == VERIFY
    manifest = json.loads((tmp_path / "kept" / "manifest.json").read_text())
    assert manifest["verified"] is False and manifest["verify"]["failures"]


def test_interrupted_export_leaves_no_bundle(tiny_model_dir, tmp_path, monkeypatch):
    from edgeslm.backends.onnx.backend import OnnxBackend

    def boom(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(OnnxBackend, "lower", boom)
    with pytest.raises(KeyboardInterrupt):
        run_export(ExportConfig(output=tmp_path / "o", target="linux", model=str(tiny_model_dir("phi")),
                                quant="fp32", max_seq_len=64), StageLog(quiet=True))
    assert not (tmp_path / "o").exists() and not leftovers(tmp_path)
