"""Issue 16, items 1 and 2: nothing in a bundle is executed; `verify` takes trust decisions only from its own
command line and resolves a recorded source against the bundle, through export's gates."""

import json
import shutil

import pytest

from trust_helpers import USER, assert_error, copy_bundle, edgeslm, edit_manifest, rehash

EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n"


@pytest.fixture
def bundle(exported, tmp_path):
    return copy_bundle(exported("llama", "int8").bundle, tmp_path / "received")


def _plant_remote_code_source(bundle, tiny_model_dir, marker):
    """A received bundle that ships its own 'source' (src/) whose config points at Python in the bundle."""
    src = bundle / "src"
    shutil.copytree(tiny_model_dir("llama"), src)
    config = json.loads((src / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    (src / "config.json").write_text(json.dumps(config))
    (src / "evil.py").write_text(EVIL.format(marker=str(marker)) + "from transformers import LlamaConfig as "
                                 "EvilConfig\nfrom transformers import LlamaForCausalLM as EvilModel\n")
    edit_manifest(bundle, lambda m: (m["source"].update(path="src", files=[]),
                                     m["options"].update(trust_remote_code=True, allow_pickle=True)))
    rehash(bundle)


def test_verify_never_runs_code_shipped_in_a_bundle(bundle, tiny_model_dir, tmp_path, monkeypatch):
    marker = tmp_path / "verify-ran-bundle-code"
    _plant_remote_code_source(bundle, tiny_model_dir, marker)
    monkeypatch.chdir(bundle)  # the old reader resolved source.path against the working directory
    result = edgeslm("verify", bundle)
    assert not marker.exists(), "verify executed Python shipped inside the bundle"
    assert_error(result, USER, "inside the bundle")


def test_verify_applies_the_pickle_gate_to_the_recorded_source(bundle, tmp_path):
    pickled = tmp_path / "pickled-source"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    edit_manifest(bundle, lambda m: (m["source"].update(path=str(pickled), files=[]),
                                     m["options"].update(allow_pickle=True)))
    assert_error(edgeslm("verify", bundle), USER, "pickle", "--allow-pickle")


def test_verify_resolves_a_relative_source_against_the_bundle(exported, tiny_model_dir, tmp_path, monkeypatch):
    home = tmp_path / "shipment"
    bundle = copy_bundle(exported("llama", "int8").bundle, home / "bundle")
    shutil.copytree(tiny_model_dir("llama"), home / "model")
    edit_manifest(bundle, lambda m: m["source"].update(path="../model"))
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "model").mkdir(parents=True)  # a decoy where the old code looked (the working directory)
    monkeypatch.chdir(elsewhere)
    result = edgeslm("verify", bundle)
    assert result.exit_code == 0 and "PASS" in result.output, result.output


def test_verify_takes_its_source_from_the_command_line(bundle, tiny_model_dir):
    edit_manifest(bundle, lambda m: m["source"].update(path="/nonexistent/model"))
    assert_error(edgeslm("verify", bundle), USER, "--source")
    result = edgeslm("verify", bundle, "--source", tiny_model_dir("llama"))
    assert result.exit_code == 0 and "PASS" in result.output, result.output


def test_run_never_runs_tokenizer_code_from_a_bundle(bundle, tmp_path):
    marker = tmp_path / "run-ran-tokenizer-code"
    config = json.loads((bundle / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil_tok.EvilTokenizer", "evil_tok.EvilTokenizer"]}
    config["tokenizer_class"] = "EvilTokenizer"  # only the bundle's own code defines it
    (bundle / "tokenizer_config.json").write_text(json.dumps(config))
    (bundle / "evil_tok.py").write_text(EVIL.format(marker=str(marker)) +
                                        "from transformers import PreTrainedTokenizerFast as EvilTokenizer\n")
    rehash(bundle)
    result = edgeslm("run", bundle, "--prompt", "what are the symptoms of diabetes?", "-n", "4")
    assert not marker.exists(), "run executed tokenizer code shipped inside the bundle"
    assert result.exit_code == 0, result.output
    assert "custom code" not in result.output
