"""Target files parse, agree with the quant registry, and refuse anything they do not know."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from edgeslm.errors import UserError
from edgeslm.quant import QUANT_SCHEMES
from edgeslm.targets import TARGETS, get_target, load_target, load_targets

TARGET_FILES = sorted(p.name for p in resources.files("edgeslm.target_files").iterdir() if p.name.endswith(".toml"))
LINUX = resources.files("edgeslm.target_files").joinpath("linux.toml").read_text()


@pytest.mark.parametrize("file_name", TARGET_FILES)
def test_every_target_file_parses(file_name):
    target = load_target(resources.files("edgeslm.target_files").joinpath(file_name))
    assert target.name == file_name.removesuffix(".toml")
    assert target.default_format in target.formats
    assert target.default_quant in QUANT_SCHEMES
    assert 0 < target.available_mb < target.ram_budget_mb
    assert target.power.source
    # Every shipped target gives `plan` a time to first token: its CPU's peak, with how it was derived.
    assert target.compute is not None and target.compute.peak_gflops > 0 and "FLOP/cycle" in target.compute.source


def test_the_three_targets_are_registered():
    assert {"android", "ios", "linux", "android-4gb", "android-12gb", "android-16gb", "iphone-8gb"} <= set(TARGETS.names())
    assert len(TARGETS) == len(TARGET_FILES)


def test_requested_defaults():
    android, ios, linux = get_target("android"), get_target("ios"), get_target("linux")
    assert (android.default_format, android.default_quant, android.cpu_arch, android.runner) == \
        ("onnx", "int4", "arm64", "adb")
    assert android.formats == ("onnx", "executorch")
    assert (ios.default_format, ios.runner) == ("coreml", "xcrun")
    assert (linux.cpu_arch, linux.default_format, linux.runner) == ("x86_64", "onnx", "host")
    # The android choice is a measurement (ONNX vs ExecuTorch on the default model); linux keeps the rule.
    assert "measured" in android.default_format_reason and "ExecuTorch" in android.default_format_reason
    assert linux.default_format_reason == ("ONNX until another backend beats it on measured decode speed at equal "
                                           "verify result")


def test_unknown_target_suggests_the_nearest():
    with pytest.raises(UserError) as err:
        get_target("andriod")
    assert "Did you mean" in err.value.hint and "'android'" in err.value.hint


def _write(tmp_path: Path, text: str, name: str = "linux.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_top_level_key_is_an_error(tmp_path: Path):
    path = _write(tmp_path, LINUX.replace('runner = "host"', 'runner = "host"\nram_budget_gb = 6'))
    with pytest.raises(UserError) as err:
        load_target(path)
    assert str(path) in err.value.message and "unknown key 'ram_budget_gb'" in err.value.message


def test_unknown_power_key_is_an_error(tmp_path: Path):
    path = _write(tmp_path, LINUX.replace("idle_w = 1.48", "idle_w = 1.48\npeak_w = 9.0"))
    with pytest.raises(UserError, match=r"unknown key power\.'peak_w'"):
        load_target(path)


@pytest.mark.parametrize("old, new, words", [
    ('default_format = "onnx"', 'default_format = "coreml"', "not in formats"),
    ('default_quant = "int4"', 'default_quant = "int3"', "default_quant 'int3'"),
    ('cpu_arch = "x86_64"', 'cpu_arch = "riscv"', "cpu_arch 'riscv'"),
    ("ram_budget_mb = 6144", 'ram_budget_mb = "6 GB"', "ram_budget_mb must be int"),
    ("os_kill_headroom_mb = 1024", "os_kill_headroom_mb = 9000", "leaves nothing"),
    ('formats = ["onnx", "executorch"]', 'formats = ["onnx", "tflite"]', "format 'tflite'"),
    ("peak_gflops = 192.0", "peak_gflops = -1", "compute.peak_gflops must be positive"),
    ("peak_gflops = 192.0", "peak_gflops = 192.0\nboost_gflops = 250.0", "unknown key compute.'boost_gflops'"),
], ids=["format-not-allowed", "quant", "arch", "type", "headroom", "unknown-format", "compute", "compute-key"])
def test_bad_values_are_errors_naming_the_file(tmp_path: Path, old, new, words):
    assert old in LINUX
    path = _write(tmp_path, LINUX.replace(old, new))
    with pytest.raises(UserError) as err:
        load_target(path)
    assert str(path) in err.value.message and words in err.value.message


def test_name_must_match_the_file_name(tmp_path: Path):
    path = _write(tmp_path, LINUX, name="desktop.toml")
    with pytest.raises(UserError, match="names itself 'linux'") as err:
        load_target(path)
    assert 'name = "desktop"' in err.value.hint


def test_missing_key_is_an_error(tmp_path: Path):
    text = "\n".join(line for line in LINUX.splitlines() if not line.startswith("mem_bandwidth_gbs"))
    with pytest.raises(UserError, match="missing key 'mem_bandwidth_gbs'"):
        load_target(_write(tmp_path, text))


def test_a_folder_of_targets_loads(tmp_path: Path):
    _write(tmp_path, LINUX)
    (tmp_path / "README.md").write_text("not a target")
    assert load_targets(tmp_path).names() == ["linux"]
