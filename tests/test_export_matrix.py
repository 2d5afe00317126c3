"""Every architecture x quant exports to ONNX with fused attention and verifies against PyTorch."""

import json

import onnx
import pytest

from conftest import ARCH_NAMES, QUANTS
from edgeslm.archs import ARCHS


@pytest.mark.parametrize("quant", QUANTS)
@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_export_verifies(exported, arch, quant):
    result = exported(arch, quant)
    manifest = result.manifest
    assert result.verified and manifest["verify"]["passed"], manifest["verify"]["failures"]
    metrics = manifest["verify"]["metrics"]
    if quant == "fp32":
        assert metrics["max_abs_logit"] < 1e-4  # the same function as PyTorch
    assert metrics["decode_steps"] > 0 and metrics["prompt_positions"] > 0
    layers = ARCHS.get(arch).tiny_config().get_text_config().num_hidden_layers
    assert manifest["kernels"]["fused_attention"] == layers
    ops = manifest["kernels"]["op_counts"]
    if quant != "fp32":
        assert ops.get("com.microsoft.MatMulNBits", 0) >= 7 * layers // 2  # every projection quantized
        assert "MatMul" not in ops  # no float MatMul left (lm_head included)
        assert ops.get("com.microsoft.GatherBlockQuantized", 0) >= 1  # the embedding too
    model = onnx.load(result.bundle / "model.onnx", load_external_data=False)
    assert [i.name for i in model.graph.input][:2] == ["input_ids", "attention_mask"]


def test_manifest_records_provenance_and_hashes(exported, tiny_model_dir):
    result = exported("llama", "int4")
    m = json.loads((result.bundle / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["format"] == "onnx" and m["target"]["name"] == "linux"
    names = {f["name"] for f in m["files"]}
    assert {"model.onnx", "model.onnx.data", "tokenizer.json", "generation.json"} <= names
    assert all(len(f["sha256"]) == 64 for f in m["files"])
    source_files = {f["name"] for f in m["source"]["files"]}
    assert "config.json" in source_files and "model.safetensors" in source_files
    assert m["quant"]["scheme"]["name"] == "int4" and m["quant"]["native"]["block_size"] == 32
    assert m["io"]["kv_cache"]["layers"] == 2 and m["io"]["outputs"][0] == "logits"
    assert set(m["stage_seconds"]) >= {"resolve", "load", "adapt", "lower", "verify"}
    assert m["tools"]["onnxruntime"] and m["tools"]["torch"]
    assert m["fit"]["verdict"]["fits"] is True


def test_partial_rotary_fallback_is_recorded(tiny_model_dir, tmp_path):
    """phi with a rotary too narrow for the fused op: exported, verified, and the fallback named."""
    from transformers import PhiConfig

    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog
    from tiny import save_tiny_model

    config = PhiConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, max_position_embeddings=128, partial_rotary_factor=0.5)
    folder = save_tiny_model(config, tmp_path / "phi-narrow")
    result = run_export(ExportConfig(output=tmp_path / "b", target="linux", model=str(folder), quant="fp32",
                                     max_seq_len=64), StageLog(quiet=True))
    fallbacks = result.manifest["fallbacks"]
    assert any(f["what"] == "attention rotary" and "multiple of 8" in f["reason"] for f in fallbacks)
    assert result.manifest["verify"]["metrics"]["max_abs_logit"] < 1e-4

    from edgeslm.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="under --strict"):  # --strict turns the fallback into an error
        run_export(ExportConfig(output=tmp_path / "s", target="linux", model=str(folder), quant="fp32",
                                max_seq_len=64, strict=True), StageLog(quiet=True))
    assert not (tmp_path / "s").exists()
