"""Every architecture exports to ExecuTorch (.pte, static cache, custom_sdpa, XNNPACK) and verifies against
PyTorch through the pipeline; the bundle runs in ExecuTorch's stock LLM runner; bad input is refused.

Lowering costs 20-50 s per export on a 2-core runner whatever the model size. The default suite (CI) runs fp32,
the lowering-exactness check, for every architecture whose lowering differs (the llama-like mistral and qwen2,
and gemma3 beside gemma3_text, only nightly), and int4 for one architecture per lowering family (llama: rope and
GQA; gemma3_text: sliding windows and sandwich norms; phi3: fused projections; gpt2: learned positions and
LayerNorm); the rest of int4 and all of int8 are marked nightly (`pytest -m nightly`, not in CI)."""

import json
import shutil

import numpy as np
import pytest

from conftest import ARCH_NAMES
from edgeslm.archs import ARCHS

pytest.importorskip("executorch.exir", reason="executorch is not installed")


@pytest.fixture(scope="session")
def et_exported(exported):
    """et_exported(arch, quant) -> ExportResult of the tiny model as an ExecuTorch bundle (cached per session)."""
    return lambda arch, quant: exported(arch, quant, target="android", fmt="executorch")


IN_CI = {"fp32": set(ARCH_NAMES) - {"mistral", "qwen2", "gemma3"}, "int4": {"llama", "gemma3_text", "phi3", "gpt2"},
         "int8": set()}
MATRIX = [pytest.param(a, q, marks=[] if a in IN_CI[q] else [pytest.mark.nightly], id=f"{a}-{q}")
          for a in ARCH_NAMES for q in ("fp32", "int4", "int8")]


@pytest.mark.parametrize("arch,quant", MATRIX)
def test_export_verifies(et_exported, arch, quant):
    result = et_exported(arch, quant)
    m = result.manifest
    assert result.verified and m["verify"]["passed"], m["verify"]["failures"]
    metrics = m["verify"]["metrics"]
    if quant == "fp32":  # the same function as PyTorch, up to XNNPACK's float summation order
        assert metrics["max_abs_logit"] < 1e-3 and metrics["sqnr_db"] > 80
    assert metrics["decode_steps"] > 0 and metrics["prompt_positions"] > 0
    layers = ARCHS.get(arch).tiny_config().get_text_config().num_hidden_layers
    kernels = m["kernels"]
    assert kernels["fused_attention"] == layers  # one custom_sdpa per layer
    assert kernels["delegated_subgraphs"] >= 1
    delegated, portable = kernels["delegated_ops"], kernels["portable_ops"]
    assert not any("mm" == op or op.startswith("linear") for op in portable)  # every matmul in XNNPACK
    if quant != "fp32":
        assert "torchao.dequantize_affine" in delegated  # quantized linears, delegated
        assert "quantized_decomposed.embedding_byte.dtype" in portable  # the 8-bit table
        assert "embedding" not in portable
    assert m["format"] == "executorch" and (result.bundle / "model.pte").is_file()
    assert m["io"]["inputs"] == ["tokens", "input_pos"]


def test_manifest_records_runner_metadata_and_fallbacks(et_exported):
    result = et_exported("llama", "int4")
    m = json.loads((result.bundle / "manifest.json").read_text())
    meta = m["kernels"]["runner_constant_methods"]
    assert meta["get_max_context_len"] == 128 and meta["use_kv_cache"] and meta["enable_dynamic_shape"]
    assert meta["get_vocab_size"] == m["arch"]["spec"]["vocab_size"]
    assert m["quant"]["native"]["linear"]["granularity"] == "per group of 32"
    assert "quantization error" in m["quant"]["native"]["note"]
    layers = m["arch"]["spec"]["layers"]
    assert m["quant"]["native"]["fused_projections"] == 2 * layers  # q/k/v and gate/up, each one linear
    assert m["kernels"]["xnnpack_passes_skipped"]["ConvertToSDPAPass"] == m["kernels"]["delegated_subgraphs"]
    whats = [f["what"] for f in m["fallbacks"]]
    assert "embedding tables" in whats  # 8-bit under int4, recorded
    assert all(f["reason"] for f in m["fallbacks"])
    assert {"model.pte", "tokenizer.json", "manifest.json"} <= set(p.name for p in result.bundle.iterdir())


def test_runner_reset_reprefill_and_threads(et_exported):
    from executorch.extension.pybindings import portable_lib

    from edgeslm.backends import BACKENDS

    result = et_exported("gemma3_text", "fp32")  # sliding-window layers: the explicit-mask path
    backend = BACKENDS.get("executorch")
    before = portable_lib._threadpool_get_thread_count()
    runner = backend.runner(result.bundle, result.manifest["io"], threads=1)
    ids = np.arange(3, 23, dtype=np.int64)[None]  # 20 tokens: past the window of 8
    first = runner.prefill(ids)
    tail = [runner.decode(t) for t in (5, 6, 7)]
    runner.reset()
    again = runner.prefill(ids[:, :12])  # shorter prompt over a cache holding 23 positions
    assert np.abs(again - first[:12]).max() < 1e-5
    runner.reset()
    runner.prefill(ids)
    assert np.abs(np.stack([runner.decode(t) for t in (5, 6, 7)]) - np.stack(tail)).max() < 1e-5
    assert portable_lib._threadpool_get_thread_count() == 1  # sized once, before the program loaded
    runner.close()
    assert portable_lib._threadpool_get_thread_count() == before  # given back after the program is unloaded
    assert first.shape == (20, result.manifest["io"]["vocab_size"])


def test_stock_executorch_llm_runner_generates(et_exported, tmp_path):
    """The .pte runs in ExecuTorch's own TextLLMRunner (what the Android LLM demo uses)."""
    runner_mod = pytest.importorskip("executorch.extension.llm.runner", reason="no ExecuTorch LLM runner wheel")
    from edgeslm.backends.executorch.runner import load_runtime_ops

    load_runtime_ops()
    result = et_exported("llama", "int4")
    # The tiny test tokenizer's Whitespace pre-tokenizer / BPEDecoder are not in pytorch/tokenizers' HF support
    # (real models' ByteLevel / Metaspace are): swap in supported equivalents for this test's copy.
    tok = json.loads((result.bundle / "tokenizer.json").read_text())
    tok["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "\\w+|[^\\w\\s]+"}, "behavior": "Isolated",
                            "invert": False}
    tok["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    (tmp_path / "tokenizer.json").write_text(json.dumps(tok))
    shutil.copy(result.bundle / "model.pte", tmp_path / "model.pte")
    runner = runner_mod.TextLLMRunner(str(tmp_path / "model.pte"), str(tmp_path / "tokenizer.json"))
    pieces: list[str] = []
    config = runner_mod.GenerationConfig(max_new_tokens=8, temperature=0.0, echo=False)
    runner.generate("what are the common symptoms", config, token_callback=pieces.append)
    assert len(pieces) >= 4 and "".join(pieces).strip()


def test_fp16_is_refused_with_a_reason(tmp_path):
    from test_cli_bad_input import UNSUPPORTED, assert_error, edgeslm

    result = edgeslm("export", "--target", "android", "--format", "executorch", "--quant", "fp16",
                     "-o", str(tmp_path / "out"))
    assert_error(result, UNSUPPORTED, "fp16", "executorch")
    assert not (tmp_path / "out").exists()


def test_supports_lists_schemes():
    from edgeslm.backends import BACKENDS
    from edgeslm.quant import get_scheme

    backend = BACKENDS.get("executorch")
    assert all(backend.supports("llama", get_scheme(q)).ok for q in ("fp32", "int8", "int4"))
    refused = backend.supports("llama", get_scheme("fp16"))
    assert not refused.ok and "fp16" in refused.reason
