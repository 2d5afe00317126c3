"""Issue 16, items 7 and 8: input and environment errors end as exit 2 (bad input) or 5 (the machine: disk full,
read-only), each with a hint, never as 70 "This is a bug"; output paths are checked before long work."""

import errno
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from trust_helpers import ENVIRONMENT, USER, assert_error, copy_bundle, edgeslm, edit_manifest, rehash


def _export(model, out, *extra):
    return edgeslm("export", "--model", model, "--target", "linux", "--quant", "fp32", "--max-seq-len", "32",
                   "-o", out, *extra)


@pytest.fixture
def bundle(exported, tmp_path):
    return copy_bundle(exported("llama", "int8").bundle, tmp_path / "bundle")


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return Path(shutil.copytree(tiny_model_dir("llama"), tmp_path / "model"))


def test_invalid_config_json_for_export_and_plan(model_copy, tmp_path):
    (model_copy / "config.json").write_text("{this is not json")
    assert_error(_export(model_copy, tmp_path / "out"), USER, "config")
    assert_error(edgeslm("plan", "--model", model_copy, "--target", "linux"), USER, "config")


def test_disk_full_is_an_environment_error(bundle, tmp_path):
    """A real ENOSPC: /dev/full refuses every write (here the signature file sign writes)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    assert edgeslm("keygen", tmp_path / "k").exit_code == 0
    (bundle / "signature.json").symlink_to("/dev/full")
    assert_error(edgeslm("sign", bundle, "--key", tmp_path / "k.pem"), ENVIRONMENT, "No space left")


def test_disk_full_during_export_is_an_environment_error(model_copy, tmp_path, monkeypatch):
    import edgeslm.bundle.manifest as manifest

    def full(folder, body):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "manifest.json"))
    monkeypatch.setattr(manifest, "write_manifest", full)
    monkeypatch.setattr("edgeslm.pipeline.export.write_manifest", full)
    assert_error(_export(model_copy, tmp_path / "out"), ENVIRONMENT, "No space left", "Free disk space")
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_unwritable_output_is_found_before_the_work(bundle):
    """/proc/self cannot hold new files (EACCES/ENOENT, even for root): refused before the profile run."""
    result = edgeslm("profile", bundle, "-o", "/proc/self/report")
    assert result.exit_code in (USER, ENVIRONMENT) and "cannot write in /proc/self" in result.output, result.output
    assert "profiling" not in result.output


def test_dangling_weight_symlink(model_copy, tmp_path):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "model.safetensors").symlink_to(tmp_path / "gone.safetensors")
    assert_error(_export(model_copy, tmp_path / "out"), USER, "model.safetensors", "does not exist")


class _Boom:
    def __reduce__(self):
        return (os.system, ("true",))


def test_malicious_pickle_blocked_by_torch_is_bad_input(model_copy, tmp_path):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(pickle.dumps({"x": _Boom()}))
    assert_error(_export(model_copy, tmp_path / "out", "--allow-pickle"), USER)


def test_non_utf8_and_empty_raw_prompts(bundle):
    assert_error(edgeslm("run", bundle, "--raw", "--prompt", "caf\udce9"), USER, "UTF-8")
    assert_error(edgeslm("run", bundle, "--raw", "--prompt", ""), USER, "empty")


@pytest.mark.parametrize("command", [("run", "--prompt", "hi"), ("verify",), ("profile",)])
def test_minimal_manifest_is_bad_input(tmp_path, command):
    folder = tmp_path / "minimal"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format_name": "edgeslm-bundle", "schema_version": 1}')
    assert_error(edgeslm(command[0], folder, *command[1:]), USER, "not a valid edgeslm manifest", "format")


def test_onnx_external_data_outside_the_bundle_is_refused(bundle):
    import onnx

    model = onnx.load(str(bundle / "model.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../../../../etc/hostname"
    onnx.save(model, str(bundle / "model.onnx"))
    rehash(bundle)
    assert_error(edgeslm("run", bundle, "--prompt", "hi"), USER, "outside", "etc/hostname")


def test_manifest_file_names_outside_the_bundle_are_refused(bundle):
    edit_manifest(bundle, lambda m: m["files"].append({"name": "../../etc/hostname", "sha256": "0" * 64,
                                                        "bytes": 1}))
    assert_error(edgeslm("run", bundle, "--prompt", "hi"), USER, "outside")


def test_profile_output_onto_a_file_is_refused_before_the_run(bundle, tmp_path):
    (tmp_path / "taken").write_text("x")
    assert_error(edgeslm("profile", bundle, "-o", tmp_path / "taken"), USER, "is a file")


def test_profile_never_overwrites_a_users_profile_json(bundle, tmp_path):
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "profile.json").write_text('{"my": "measurements"}')
    assert_error(edgeslm("profile", bundle, "-o", mine), USER, "profile.json", "did not write")
    assert json.loads((mine / "profile.json").read_text()) == {"my": "measurements"}


def test_report_html_onto_a_folder(bundle, tmp_path):
    assert_error(edgeslm("report", bundle, "--html", tmp_path), USER, "is a folder")


def test_output_dot_is_refused_before_the_work(model_copy, tmp_path, monkeypatch):
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert_error(_export(model_copy, "."), USER, "current folder")


@pytest.mark.parametrize("args", [("-n", "-5"), ("--threads", "-2"), ("-n", "0")])
def test_run_rejects_nonpositive_counts(bundle, args):
    result = edgeslm("run", bundle, "--prompt", "hi", *args)
    assert result.exit_code == USER and "Invalid value" in result.output, result.output


def test_plan_and_export_agree_on_the_minimum_length(tiny_model_dir, tmp_path):
    assert_error(edgeslm("plan", "--model", tiny_model_dir("llama"), "--target", "linux", "--max-seq-len", "8",
                         "--prompt-len", "2", "--gen-len", "2"), USER, "at least 16")
    assert_error(_export(tiny_model_dir("llama"), tmp_path / "o", "--max-seq-len", "8"), USER, "at least 16")


def test_nan_outputs_fail_verification():
    from edgeslm.verify.check import judge
    from edgeslm.verify.metrics import measure
    from edgeslm.verify.reference import PromptReference
    from edgeslm.verify.thresholds import tolerance_for

    class NanRunner:
        def reset(self):
            pass

        def prefill(self, ids):
            return np.full((ids.shape[1], 8), np.nan, np.float32)

        def decode(self, token):
            return np.full(8, np.nan, np.float32)

    ref = PromptReference("p", np.array([1, 2, 3]), np.ones((3, 8), np.float32), np.array([4]),
                          np.ones((1, 8), np.float32))
    metrics = measure(NanRunner(), [ref])
    assert not np.isfinite(metrics.max_abs_logit)  # never "max |Δlogit| 0"
    verdict = judge(metrics, tolerance_for("fp32"))
    assert not verdict.passed


def test_long_error_messages_end_on_a_word():
    from edgeslm.sources.hub import _first_line

    text = _first_line(RuntimeError("Cannot reach https://huggingface.co " + "because the network is down " * 20))
    assert text.endswith(" …") and text[:-2].split()[-1] in ("because", "the", "network", "is", "down")
