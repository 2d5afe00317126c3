"""Every architecture x fp16/int8/int4 exports to a Core ML package (iOS 18 stateful KV cache, one fused
attention op per layer, coremltools.optimize weights) and verifies on this host: the traced wrapper, the MIL
structure, the package reload and the weights read back from the package; the Core ML runtime on macOS."""

import json
import sys

import pytest

from conftest import ARCH_NAMES
from edgeslm.archs import ARCHS

pytest.importorskip("coremltools", reason="the coreml backend needs coremltools (pip install edgeslm[coreml])")

COREML_QUANTS = ["fp16", "int8", "int4"]
# The default suite runs the default scheme (int4) for every architecture and all three schemes for llama and
# gemma3_text (sliding windows); the rest of the matrix is marked nightly (each export costs a conversion).
FAST = {(arch, "int4") for arch in ARCH_NAMES} | {(a, q) for a in ("llama", "gemma3_text") for q in COREML_QUANTS}
MATRIX = [pytest.param(a, q, id=f"{a}-{q}", marks=() if (a, q) in FAST else pytest.mark.nightly)
          for a in ARCH_NAMES for q in COREML_QUANTS]
# Tolerances of the stored-weights check on the tiny models, as measured (see verify/thresholds.py for the gate).
MIN_SQNR = {"fp16": 60.0, "int8": 35.0, "int4": 15.0}


@pytest.fixture(scope="session")
def ios_exported(exported):
    """ios_exported(arch, quant) -> ExportResult of the tiny model on target ios (cached per session)."""
    return lambda arch, quant: exported(arch, quant, target="ios")


def _check(manifest, name):
    return next(c for c in manifest["verify"]["checks_run"] if c["name"] == name)


@pytest.mark.parametrize("arch,quant", MATRIX)
def test_coreml_export_verifies(ios_exported, arch, quant):
    result = ios_exported(arch, quant)
    m = result.manifest
    assert result.verified and m["verify"]["passed"], m["verify"]["failures"]
    assert m["format"] == "coreml" and m["target"]["name"] == "ios"
    layers = ARCHS.get(arch).tiny_config().get_text_config().num_hidden_layers
    # The traced wrapper is the same function as PyTorch (fp32), at every prompt position and decode step.
    trace = _check(m, "trace")["metrics"]
    assert trace["max_abs_logit"] < 1e-4 and trace["decode_steps"] > 0
    structure = _check(m, "structure")
    assert structure["passed"] and structure["states"] == ["keyCache", "valueCache"]
    assert structure["fused_attention"] == layers == m["kernels"]["scaled_dot_product_attention"]
    assert structure["float_weights_left"] == [] and not m["fallbacks"]
    storage = m["kernels"]["weights_by_storage"]
    projections = layers * (7 if m["arch"]["spec"]["mlp"] == "gated" else 6) + 1  # q k v o (gate) up down; lm_head
    if quant == "fp16":
        assert set(storage) == {"const"} and m["kernels"]["constexpr_blockwise_shift_scale"] == 0
    else:  # every projection and embedding table quantized by coremltools.optimize
        assert set(storage) == {"constexpr_blockwise_shift_scale"}
        # >= projections + embedding (a tied lm_head / embedding pair is one deduplicated constexpr op)
        assert sum(storage.values()) >= projections + 1
        assert m["kernels"]["constexpr_blockwise_shift_scale"] >= projections
    weights = _check(m, "stored_weights")
    assert weights["passed"] and weights["metrics"]["sqnr_db"] >= MIN_SQNR[quant]
    assert m["verify"]["metrics"] == weights["metrics"] or sys.platform == "darwin"
    assert _check(m, "package")["bytes"] > 0
    assert m["quant"]["native"]["tool"] == "coremltools.optimize.coreml"


def test_coreml_manifest_io_and_hashes(ios_exported):
    result = ios_exported("llama", "int4")
    m = json.loads((result.bundle / "manifest.json").read_text())
    names = {f["name"] for f in m["files"]}
    # The package is a directory: every file inside it is hashed on its own.
    assert "model.mlpackage/Manifest.json" in names
    assert any(n.startswith("model.mlpackage/Data/com.apple.CoreML/") and n.endswith("weight.bin") for n in names)
    assert {"tokenizer.json", "generation.json"} <= names and all(len(f["sha256"]) == 64 for f in m["files"])
    from edgeslm.bundle.manifest import check_files

    assert check_files(result.bundle, m) == ([], [])
    io = m["io"]["coreml"]
    # swift-transformers' LanguageModelWithStatefulKVCache: its feature names, a ranged query length (it refuses
    # a model without one) and a mask whose width reaches max positions + 1
    assert list(io["inputs"]) == ["inputIds", "causalMask"] and list(io["outputs"]) == ["logits"]
    assert io["inputs"]["inputIds"]["dtype"] == "int32" and io["inputs"]["inputIds"]["ranges"][-1] == [1, 128]
    assert io["inputs"]["causalMask"]["dtype"] == "float16"
    assert io["inputs"]["causalMask"]["ranges"][-2:] == [[1, 128], [2, 129]]
    assert list(io["states"]) == ["keyCache", "valueCache"]
    assert io["states"]["keyCache"]["shape"] == [2, 1, 2, 128, 16] and io["states"]["keyCache"]["dtype"] == "float16"
    assert io["outputs"]["logits"]["dtype"] == "float16"
    assert m["quant"]["native"]["granularity"] == "per_block" and m["quant"]["native"]["block_size"] == 32
    assert m["quant"]["native"]["dtype"] == "int4"
    ran = {c["name"] for c in m["verify"]["checks_run"]}
    assert {"trace", "structure", "package", "stored_weights"} <= ran
    if sys.platform != "darwin":
        assert [c["name"] for c in m["verify"]["checks_not_run"]] == ["coreml_predict"]
        assert "macOS" in m["verify"]["checks_not_run"][0]["reason"]
        assert m["verify"]["runtime"].startswith("host pytorch")


def test_int8_is_per_channel(ios_exported):
    m = ios_exported("llama", "int8").manifest
    assert m["quant"]["native"]["granularity"] == "per_channel" and m["quant"]["native"]["dtype"] == "int8"


def test_package_reloads(ios_exported):
    import coremltools as ct

    result = ios_exported("llama", "int4")
    model = ct.models.MLModel(str(result.bundle / "model.mlpackage"), skip_model_load=True)
    spec = model.get_spec()
    assert [s.name for s in spec.description.state] == ["keyCache", "valueCache"]
    assert spec.specificationVersion >= 9  # iOS 18


@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML's runtime (MLModel.predict, make_state) runs only on "
                                                     "macOS; on Linux the host checks stand in (see manifest)")
def test_coreml_predict_on_macos(ios_exported):
    from edgeslm.backends.coreml.runner import CoreMLRunner

    result = ios_exported("llama", "int4")
    m = result.manifest
    assert "coreml_predict" in {c["name"] for c in m["verify"]["checks_run"]}
    assert _check(m, "coreml_predict")["passed"]
    runner = CoreMLRunner(result.bundle)
    runner.reset()
    logits = runner.prefill([[3, 4, 5]])
    assert logits.shape == (3, m["io"]["vocab_size"])
    assert runner.decode(6).shape == (m["io"]["vocab_size"],)


def test_coreml_runner_refused_off_macos(tmp_path):
    if sys.platform == "darwin":
        pytest.skip("on macOS the runner exists")
    from edgeslm.backends.coreml.runner import CoreMLRunner
    from edgeslm.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="only on macOS"):
        CoreMLRunner(tmp_path)


def test_ios_bad_input():
    from test_cli_bad_input import UNSUPPORTED, assert_error, edgeslm

    assert_error(edgeslm("export", "--target", "ios", "--quant", "fp32", "-o", "unused"), UNSUPPORTED,
                 "--quant fp32 is not available for --format coreml", "float16")
    assert_error(edgeslm("export", "--target", "ios", "--format", "onnx", "-o", "unused"), UNSUPPORTED,
                 "does not run the onnx format")


@pytest.mark.nightly
def test_default_model_int4_keeps_its_gguf_blocks(tmp_path):
    """SmolLM2 (Q4_1 GGUF): its 4-bit blocks are carried into the package, not re-rounded onto a second int4
    grid (re-rounding measured 5.9 dB / 0.51 top-1 here: a verify failure); its Q8_0 table is carried 8-bit, once
    for the gather and the tied head (at coremltools' int4 it measured 17.9 dB and failed the clinical gate), so
    coremltools' quantizer has nothing left and does not run. Real weights, about 3 minutes."""
    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog

    result = run_export(ExportConfig(output=tmp_path / "b", target="ios", max_seq_len=256), StageLog(quiet=True))
    m = result.manifest
    assert result.verified, m["verify"]["failures"]
    carry = m["quant"]["native"]["gguf_carry_over"]
    assert carry["left_over"] == 0 and carry["by_type"] == {"Q4_1": 210, "Q8_0": 2}
    assert carry["quantized_by_scheme"] == {}
    assert m["quant"]["native"]["quantizer_ran"] is False
    assert m["kernels"]["scaled_dot_product_attention"] == 30
    assert m["verify"]["metrics"]["sqnr_db"] >= 50.0  # 54.9 dB measured
    package = _check(m, "package")["bytes"] / 2**20
    # 94.4 MiB measured: 8.5 bits per table weight, 5 per Q4_1 weight (its fp16 offset: 6.3 MiB)
    assert package < 95.0, f"package {package:.1f} MiB"


@pytest.mark.parametrize("qtype", ["Q4_0", "Q4_1", "Q8_0"])
def test_gguf_blocks_as_blockwise_shift_scale(qtype):
    """scale * (data - offset) per block of 32 reproduces llama.cpp's own dequantization of each GGUF type
    (Q4_1 up to its fp16 offset -m/d; Q4_0 / Q8_0 exactly, up to the fp16 output)."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    from edgeslm.backends.coreml.gguf_carry import gguf_blocks

    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.05, (48, 128)).astype(np.float32)
    weight[:, 32:64] += 0.3  # one block far from zero: a large Q4_1 offset m
    raw = quants.quantize(weight, GGMLQuantizationType[qtype])
    want = quants.dequantize(raw, GGMLQuantizationType[qtype])
    data, scale, offset = gguf_blocks(raw, qtype=qtype)
    assert data.shape == (48, 128) and scale.shape == offset.shape == (48, 4)
    expand = lambda a: np.repeat(a.astype(np.float32), 32, axis=1)  # noqa: E731
    got = (data.astype(np.float32) - expand(offset)) * expand(scale)
    assert np.abs(got - want).max() <= (2e-3 * np.abs(want).max() if qtype == "Q4_1" else 1e-6)


def test_edgeslm_verify_runs_the_host_checks_off_macos(ios_exported):
    """`edgeslm verify` measures a Core ML bundle through the backend's verify, as export did: the host checks run
    here (no MLModel.predict off macOS) and give the export's numbers again."""
    from edgeslm.verify.rerun import reverify

    result = ios_exported("llama", "int4")
    again = reverify(result.bundle)
    assert again["passed"] and again["scheme"] == "int4"
    assert again["runtime"] == result.manifest["verify"]["runtime"]
    assert {c["name"] for c in again["checks_run"]} >= {"trace", "structure", "package", "stored_weights"}
    if sys.platform != "darwin":
        assert [c["name"] for c in again["checks_not_run"]] == ["coreml_predict"]
        assert again["metrics"]["sqnr_db"] == pytest.approx(result.manifest["verify"]["metrics"]["sqnr_db"], abs=1e-6)


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the scoring runner is MLModel.predict")
def test_scoring_runner_off_macos_runs_the_packaged_weights(ios_exported, tiny_model_dir):
    """The clinical pack scores a Core ML bundle here through its stored weights: the package's int4 weights, not the
    float decoder it was built from."""
    import numpy as np
    from transformers import AutoModelForCausalLM

    from edgeslm.backends import BACKENDS
    from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder
    from edgeslm.model.adapt import adapt

    result = ios_exported("llama", "int4")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir("llama")).eval()
    runner, runtime = BACKENDS.get("coreml").scoring_runner(result.bundle, result.manifest["io"], 1,
                                                             lambda: adapt(model, 128))
    assert runtime == "host pytorch (weights read back from the Core ML package)"
    ids = np.array([[1, 5, 9, 17]], dtype=np.int64)
    packaged = runner.prefill(ids)
    float_logits = EagerRunner(StatefulDecoder(adapt(model, 128), 128).eval()).prefill(ids)
    assert packaged.shape == float_logits.shape and np.isfinite(packaged).all()
    assert not np.allclose(packaged, float_logits, atol=1e-4)  # int4 weights, not the float ones
    assert np.corrcoef(packaged.ravel(), float_logits.ravel())[0, 1] > 0.5  # but the same model


def test_the_package_names_the_hub_model_for_swift_transformers(tiny_model_dir, tmp_path):
    """With the source's Hub id known, the package carries it where swift-transformers' LanguageModel looks for
    the model's name (tokenizer and generation config); without one, nothing is made up."""
    import coremltools as ct
    from transformers import AutoModelForCausalLM

    from edgeslm.backends.base import LowerContext
    from edgeslm.backends.coreml.backend import CoreMLBackend
    from edgeslm.backends.coreml.contract import HUB_NAME_KEY
    from edgeslm.model.adapt import adapt
    from edgeslm.quant import QUANT_SCHEMES

    decoder = adapt(AutoModelForCausalLM.from_pretrained(tiny_model_dir("llama")).eval(), 32)
    CoreMLBackend().lower(decoder, QUANT_SCHEMES.get("fp16"), tmp_path, LowerContext(hub_name="org/clinic-model"))
    meta = ct.models.MLModel(str(tmp_path / "model.mlpackage"), skip_model_load=True).user_defined_metadata
    assert meta[HUB_NAME_KEY] == "org/clinic-model"
