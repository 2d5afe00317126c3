"""Bad input: each gets a clear message (Error + Hint), its exit code, and leaves nothing half-written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import edgeslm
from edgeslm.errors import UnsupportedError, UserError

USER, UNSUPPORTED, VERIFY = UserError.exit_code, UnsupportedError.exit_code, 4


def assert_error(result, code, *needles):
    assert result.exit_code == code, result.output
    out = result.output
    assert "Error:" in out and "Hint:" in out, out
    for needle in needles:
        assert needle in out, out
    assert "Traceback" not in out


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name]


def test_missing_path(tmp_path):
    assert_error(edgeslm("export", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "o")),
                 USER, "no such file or folder")


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_error(edgeslm("export", "--model", str(tmp_path), "-o", str(tmp_path / "o")),
                 USER, "not a model folder", "no config.json")


def test_truncated_safetensors(tiny_model_dir, tmp_path):
    bad = tmp_path / "m"
    bad.mkdir()
    for f in tiny_model_dir("llama").iterdir():
        data = f.read_bytes()
        (bad / f.name).write_bytes(data[: len(data) // 2] if f.suffix == ".safetensors" else data)
    assert_error(edgeslm("export", "--model", str(bad), "-o", str(tmp_path / "o")), USER, "truncated or corrupt")
    assert not (tmp_path / "o").exists() and not leftovers(tmp_path)


def test_corrupt_safetensors_header(tiny_model_dir, tmp_path):
    bad = tmp_path / "m"
    bad.mkdir()
    for f in tiny_model_dir("llama").iterdir():
        (bad / f.name).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" if f.suffix == ".safetensors"
                                   else f.read_bytes())
    assert_error(edgeslm("export", "--model", str(bad), "-o", str(tmp_path / "o")), USER, "not a valid safetensors")


def test_corrupt_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(200))
    assert_error(edgeslm("export", "--model", str(bad), "-o", str(tmp_path / "o")), USER, "not a readable GGUF")


def test_pickle_weights_refused_without_flag(tiny_model_dir, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for f in tiny_model_dir("gpt2").iterdir():
        if f.suffix != ".safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    assert_error(edgeslm("export", "--model", str(folder), "-o", str(tmp_path / "o")), USER,
                 "pickle", "--allow-pickle")


def test_unsupported_architecture_lists_supported(tmp_path):
    from transformers import GPTNeoXConfig

    from tiny import save_tiny_model

    folder = save_tiny_model(GPTNeoXConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                                           num_hidden_layers=2, num_attention_heads=4), tmp_path / "neox")
    assert_error(edgeslm("export", "--model", str(folder), "-o", str(tmp_path / "o")), UNSUPPORTED,
                 "gpt_neox", "llama", "biogpt")


@pytest.mark.parametrize("args,code,needle", [
    (["--target", "andriod"], USER, "Did you mean 'android'"),
    (["--format", "onxx"], USER, "Did you mean 'onnx'"),
    (["--quant", "int3"], USER, "unknown quant scheme"),
    (["--verify-tokens", "257"], USER, "--verify-tokens must be between 0 and 256"),
    (["--quant", "fp16"], UNSUPPORTED, "not available for --format onnx"),
    (["--target", "linux", "--format", "coreml"], UNSUPPORTED, "does not run the coreml format"),
], ids=["target", "format", "quant", "verify-tokens", "quant-for-format", "format-for-target"])
def test_unknown_or_unsupported_names(tmp_path, args, code, needle):
    assert_error(edgeslm("export", *args, "-o", str(tmp_path / "o")), code, needle)


def test_model_too_big_for_target(tmp_path):
    result = edgeslm("export", "--model", "biomistral-7b", "--quant", "fp32", "-o", str(tmp_path / "o"),
                     env={"HF_HUB_OFFLINE": "1"})
    assert_error(result, UNSUPPORTED, "needs", "MB of RAM on android", "--quant int4")
    assert not (tmp_path / "o").exists()


def test_hub_id_offline_gives_a_hint(tmp_path):
    result = edgeslm("export", "--model", "someorg/not-cached-model", "-o", str(tmp_path / "o"),
                     env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert_error(result, USER, "not in the local Hugging Face cache", "hf download someorg/not-cached-model")


def test_output_exists_refused_without_force(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    assert_error(edgeslm("export", "-o", str(out)), USER, "already exists", "--force")
    assert_error(edgeslm("export", "-o", str(out), "--force"), USER, "not an edgeslm bundle")
    assert (out / "precious.txt").read_text() == "mine"


def test_force_replaces_a_bundle_and_only_a_bundle(exported, tiny_model_dir, tmp_path):
    import shutil

    out = tmp_path / "o"
    shutil.copytree(exported("qwen2", "fp32").bundle, out)
    before = (out / "manifest.json").read_text()
    result = edgeslm("export", "--model", str(tiny_model_dir("qwen2")), "--target", "linux", "--quant", "int8",
                     "--max-seq-len", "64", "-o", str(out), "--force")
    assert result.exit_code == 0, result.output
    after = json.loads((out / "manifest.json").read_text())
    assert after["quant"]["scheme"]["name"] == "int8" and (out / "manifest.json").read_text() != before
    assert not leftovers(tmp_path)


def test_debug_shows_traceback_and_errors_go_to_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "edgeslm", "--debug", "export", "--target", "nowhere"],
                          capture_output=True, text=True)
    assert proc.returncode == USER
    assert "Traceback" in proc.stderr and "Error: unknown target" in proc.stderr
    assert proc.stdout == ""


def test_json_error_output(tmp_path):
    result = edgeslm("--json", "export", "--target", "nowhere", "-o", str(tmp_path / "o"))
    assert result.exit_code == USER
    payload = json.loads(result.output.splitlines()[0])
    assert payload["ok"] is False and payload["error"]["kind"] == "user_error"
