"""The ONNX export's projection fusion (backends/onnx/fuse_projections.py): fewer nodes, the same stored bytes, the
same logits bit for bit.

A tiny tied llama is written as a llama.cpp-style GGUF with every projection Q4_1 (SmolLM2's type: the carry-over
adds a block-sum side path per projection) and lowered twice, with and without the fusions."""

import json

import numpy as np
import onnx
import pytest

from edgeslm.backends.onnx import backend as onnx_backend
from edgeslm.backends.onnx.fuse_projections import fuse_projections
from edgeslm.backends.onnx.runner import OnnxRunner
from edgeslm.backends.onnx.stored_weights import StoredWeights

gguf = pytest.importorskip("gguf")

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM

    from edgeslm.archs import ARCHS
    from edgeslm.model.adapt import adapt
    from tiny import save_tiny_model

    config = ARCHS.get("llama").tiny_config()
    config.tie_word_embeddings = True
    folder = save_tiny_model(config, tmp_path_factory.mktemp("fuse-llama"), train_steps=20)
    return adapt(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), 64)


@pytest.fixture(scope="module")
def q4_1_gguf(decoder, tmp_path_factory):
    from gguf import GGMLQuantizationType as QT
    from gguf import quants

    from edgeslm.sources.gguf_names import gguf_tensor_name, unpermute_rows_for

    spec = decoder.spec
    path = tmp_path_factory.mktemp("gguf") / "tiny-q4_1.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_head_count(spec.heads)
    writer.add_head_count_kv(spec.kv_heads)
    tensors = {"embed": (decoder.embed.weight.detach().numpy(), QT.Q8_0)}
    for name, module in decoder.named_modules():
        if name.startswith("layers.") and hasattr(module, "weight_t"):
            tensors[name] = (module.weight_t.detach().t().numpy(), QT.Q4_1)
    for name, (weight, qtype) in tensors.items():
        rows = unpermute_rows_for(name, weight.shape[0], spec.heads, spec.kv_heads)
        stored = weight if rows is None else weight[np.argsort(rows)]  # llama.cpp's q/k row permute
        writer.add_tensor(gguf_tensor_name(name, {}), quants.quantize(np.ascontiguousarray(stored, np.float32), qtype),
                          raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _lower(decoder, out, gguf_path, fused: bool, monkeypatch):
    from edgeslm.backends.base import LowerContext
    from edgeslm.quant import get_scheme

    with monkeypatch.context() as patch:
        if not fused:
            patch.setattr(onnx_backend, "fuse_projections", lambda model: (model, {}))
        artifact = onnx_backend.OnnxBackend().lower(decoder, get_scheme("int4"), out,
                                                    LowerContext(gguf_path=gguf_path))
    return artifact


def _bundle(artifact_dir):
    return onnx.load(str(artifact_dir / "model.onnx"))


def _logits(bundle, ids, steps=6, **kw):
    runner = OnnxRunner(bundle, threads=1, **kw)
    out = [runner.prefill(ids)]
    token = int(out[0][-1].argmax())
    for _ in range(steps):  # decode steps read the cache the prefill and earlier steps wrote
        out.append(runner.decode(token)[None])
        token = int(out[-1][-1].argmax())
    return out


@pytest.fixture(scope="module")
def carried_dirs(decoder, q4_1_gguf, tmp_path_factory):
    dirs = {}
    with pytest.MonkeyPatch.context() as mp:
        for fused in (False, True):
            out = tmp_path_factory.mktemp("fused" if fused else "unfused")
            artifact = _lower(decoder, out, q4_1_gguf, fused, mp)
            dirs[fused] = (out, artifact)
    return dirs


def test_node_counts_drop_as_expected(decoder, carried_dirs):
    layers = decoder.spec.layers
    (_, before), (_, after) = carried_dirs[False], carried_dirs[True]
    assert before.quant["gguf_carry_over"]["by_type"]["Q4_1 -> MatMulNBits (4-bit)"] == 7 * layers
    b, a = before.kernels["op_counts"], after.kernels["op_counts"]
    # Per layer: q/k/v -> one, gate/up -> one; each with one residual MatMul and one Add.
    assert b["com.microsoft.MatMulNBits"] - a["com.microsoft.MatMulNBits"] == 3 * layers
    assert b["MatMul"] - a["MatMul"] == 3 * layers  # residual MatMuls (block sums were already shared)
    assert a.get("Split") == layers  # gate/up
    assert b["Add"] - a["Add"] == 3 * layers  # one residual Add per fused projection
    assert b["com.microsoft.GroupQueryAttention"] == a["com.microsoft.GroupQueryAttention"] == layers
    assert after.quant["fused_projections"] == {"packed_qkv": layers, "split": layers,
                                                "projections_fused": 5 * layers}
    model = _bundle(carried_dirs[True][0])
    for node in model.graph.node:
        if node.op_type == "GroupQueryAttention":
            assert node.input[1] == node.input[2] == ""  # packed QKV
            assert node.input[0].endswith("q_proj+k_proj+v_proj.out")


def test_fused_weights_are_the_same_bytes(carried_dirs):
    """Every fused initializer is its members' bytes concatenated along N, nothing re-rounded."""
    from onnx import numpy_helper

    def inits(folder):
        model = onnx.load(str(folder / "model.onnx"))
        return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}, model

    before, _ = inits(carried_dirs[False][0])
    after, model = inits(carried_dirs[True][0])
    fused = [n for n in model.graph.node if n.op_type == "MatMulNBits" and n.doc_string]
    assert len(fused) == 2 * len([n for n in model.graph.node if n.op_type == "GroupQueryAttention"])
    for node in fused:
        members = json.loads(node.doc_string)["edgeslm.fused_from"]
        for k, suffix in ((1, "qweight"), (2, "scales"), (3, "zero_points")):
            parts = [before[data.removesuffix("qweight") + suffix] for data, _n in members]
            want = np.concatenate([p.reshape(n, -1) for p, (_d, n) in zip(parts, members)])
            np.testing.assert_array_equal(after[node.input[k]].reshape(want.shape), want)
        prefix = node.name.removesuffix("/MatMulNBits")
        residuals = [before[data.removesuffix("qweight") + "residual_t"] for data, _n in members]
        np.testing.assert_array_equal(after[prefix + ".residual_t"], np.concatenate(residuals, axis=1))
    # Nothing else changed: every unfused initializer still there is byte-identical.
    for name, value in after.items():
        if name in before:
            np.testing.assert_array_equal(value, before[name])


def test_fused_bundle_computes_the_same_logits_bit_for_bit(carried_dirs):
    """Each output column is computed from the same bytes as before: prefill and decode steps with the cache, in
    the shipped kernels (int8 activation blocks) and in float32 arithmetic (the lowering check's)."""
    ids = np.array([1, 7, 12, 40, 3, 9, 22, 5], dtype=np.int64)
    before, after = carried_dirs[False][0], carried_dirs[True][0]
    for exact in (False, True):
        for want, got in zip(_logits(before, ids, exact_arithmetic=exact), _logits(after, ids, exact_arithmetic=exact)):
            np.testing.assert_array_equal(got, want)


def test_block_sum_after_the_first_projection(carried_dirs, tmp_path):
    """A graph whose shared block sum comes after the first projection (another trace order) still fuses, in a
    valid order, and computes the same logits bit for bit."""
    source = carried_dirs[False][0]
    model = onnx.load(str(source / "model.onnx"))
    nodes = list(model.graph.node)
    for k in [k for k, node in enumerate(nodes) if node.name.endswith("q_proj/BlockSum")]:
        nodes[k], nodes[k + 1] = nodes[k + 1], nodes[k]  # BlockSum, q's MatMulNBits -> q's MatMulNBits, BlockSum
        assert nodes[k].name.endswith("q_proj/MatMulNBits")
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    fused, report = fuse_projections(model)
    layers = sum(n.op_type == "GroupQueryAttention" for n in model.graph.node)
    assert report == {"packed_qkv": layers, "split": layers, "projections_fused": 5 * layers}
    onnx.save_model(fused, tmp_path / "model.onnx", save_as_external_data=True, location="model.onnx.data")
    ids = np.array([1, 7, 12, 40, 3, 9, 22, 5], dtype=np.int64)
    for want, got in zip(_logits(source, ids), _logits(tmp_path, ids)):
        np.testing.assert_array_equal(got, want)


def test_fusion_needs_the_same_input_and_attributes(carried_dirs):
    """Projections that differ in an attribute stay apart: no group is formed across accuracy levels."""
    model = onnx.load(str(carried_dirs[False][0] / "model.onnx"))
    for node in model.graph.node:
        if node.op_type == "MatMulNBits" and "k_proj" in node.name:
            for attr in node.attribute:
                if attr.name == "accuracy_level":
                    attr.i = 0
    _fused, report = fuse_projections(model)
    layers = sum(n.op_type == "GroupQueryAttention" for n in model.graph.node)
    # q and v still share everything: fused, but not packed (GQA needs all three), so split back.
    assert report == {"packed_qkv": 0, "split": 2 * layers, "projections_fused": 4 * layers}


def test_stored_weights_read_fused_projections(decoder, tmp_path_factory):
    """The lowering check reads every decoder weight back from a fused bundle (plain int4, no GGUF)."""
    dirs = {}
    with pytest.MonkeyPatch.context() as mp:
        for fused in (False, True):
            dirs[fused] = tmp_path_factory.mktemp("plain-fused" if fused else "plain-unfused")
            _lower(decoder, dirs[fused], None, fused, mp)
    before, after = StoredWeights(dirs[False] / "model.onnx"), StoredWeights(dirs[True] / "model.onnx")
    assert any(n.doc_string for n in after.quantized.values())
    for layer in range(decoder.spec.layers):
        for proj in PROJECTIONS:
            name = f"layers.{layer}.{proj}.weight_t"
            assert name in after
            np.testing.assert_array_equal(after.weight(name), before.weight(name))
