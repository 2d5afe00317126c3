"""A GGUF's 4-bit blocks go into the Core ML program as they are, and so does its 8-bit embedding table (stored
once for the gather and the tied head), as on the embedded default model."""

import numpy as np
import pytest

pytest.importorskip("coremltools", reason="the coreml backend needs coremltools (pip install edgeslm[coreml])")

# Attention projections Q4_0, MLP projections Q4_1 (SmolLM2's type), the tied table Q8_0 (SmolLM2's).
PROJ_TYPES = {"q_proj": "Q4_0", "k_proj": "Q4_0", "v_proj": "Q4_0", "o_proj": "Q4_0",
              "gate_proj": "Q4_1", "up_proj": "Q4_1", "down_proj": "Q4_1"}
TABLE_TYPE = "Q8_0"


@pytest.fixture(scope="module")
def carried(tmp_path_factory):
    """A tiny tied llama, its weights written as a llama.cpp-style GGUF, lowered to Core ML int4 with carry-over."""
    import gguf
    import torch
    from gguf import GGMLQuantizationType as QT
    from gguf import quants
    from transformers import AutoModelForCausalLM

    from edgeslm.archs import ARCHS
    from edgeslm.backends.base import LowerContext
    from edgeslm.backends.coreml.backend import CoreMLBackend
    from edgeslm.sources.gguf_names import gguf_tensor_name, unpermute_rows_for
    from edgeslm.model.adapt import adapt
    from edgeslm.quant import get_scheme
    from tiny import save_tiny_model

    config = ARCHS.get("llama").tiny_config()
    config.tie_word_embeddings = True
    folder = save_tiny_model(config, tmp_path_factory.mktemp("tied-llama"), train_steps=20)
    decoder = adapt(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), 64)
    spec = decoder.spec

    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    want = {}  # decoder module name -> what llama.cpp dequantizes, in the decoder's row order
    tensors = {"embed": (decoder.embed.weight.detach().numpy(), QT[TABLE_TYPE])}
    for name, module in decoder.named_modules():
        if name.startswith("layers.") and hasattr(module, "weight_t"):
            tensors[name] = (module.weight_t.detach().t().numpy(), QT[PROJ_TYPES[name.split(".")[-1]]])
    for name, (weight, qtype) in tensors.items():
        rows = unpermute_rows_for(name, weight.shape[0], spec.heads, spec.kv_heads)
        stored = weight if rows is None else weight[np.argsort(rows)]  # llama.cpp's q/k row permute
        blocks = quants.quantize(np.ascontiguousarray(stored, dtype=np.float32), qtype)
        writer.add_tensor(gguf_tensor_name(name, {}), blocks, raw_dtype=qtype)
        back = quants.dequantize(blocks, qtype)
        want[name] = back if rows is None else back[rows]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    out = tmp_path_factory.mktemp("coreml-carry")
    artifact = CoreMLBackend().lower(decoder, get_scheme("int4"), out, LowerContext(gguf_path=path))
    return decoder, artifact, out, want


def test_four_bit_blocks_and_the_eight_bit_table_carry(carried):
    decoder, artifact, _, _ = carried
    carry = artifact.quant["gguf_carry_over"]
    projections = 7 * decoder.spec.layers
    assert carry["by_type"] == {"Q4_0": 4 * decoder.spec.layers, "Q4_1": 3 * decoder.spec.layers, TABLE_TYPE: 2}
    assert carry["left_over"] == 0
    assert carry["quantized_by_scheme"] == {}
    assert artifact.fallbacks == []  # a scheme decision, not a fallback: --strict still passes
    assert artifact.kernels["weights_by_storage"] == {"constexpr_blockwise_shift_scale": projections + 2}
    assert artifact.quant["quantizer_ran"] is False  # every weight carried: coremltools' quantizer had nothing left


def test_float_weights_are_found_before_the_carry_and_not_after(carried):
    import coremltools as ct

    from edgeslm.backends.coreml.contract import MODEL_DIR
    from edgeslm.backends.coreml.convert import (QUANTIZED_OP_TYPES, WEIGHT_THRESHOLD, any_float_weight, convert,
                                                 trace)

    decoder, _, out, _ = carried
    traced = trace(decoder, decoder.spec.max_positions)
    fresh = convert(traced, decoder.spec.max_positions, tuple(traced.keyCache.shape))
    assert any_float_weight(fresh, QUANTIZED_OP_TYPES, WEIGHT_THRESHOLD)
    shipped = ct.models.MLModel(str(out / MODEL_DIR), skip_model_load=True)
    assert not any_float_weight(shipped, QUANTIZED_OP_TYPES, WEIGHT_THRESHOLD)


def test_stored_weights_are_the_gguf_blocks_and_the_table_once(carried):
    from edgeslm.backends.coreml.contract import MODEL_DIR
    from edgeslm.backends.coreml.host_verify import projection_call_order
    from edgeslm.backends.coreml.mil import load_program, operations, stored_weights

    decoder, _, out, want = carried
    program = load_program(out / MODEL_DIR)
    stored = stored_weights(program.mil)
    names = {id(m): n for n, m in decoder.named_modules()}
    order = [names[id(p)] for p in projection_call_order(decoder)]
    for name, (_, got) in zip(order, stored.projections):
        if name == "lm_head":
            continue
        # Q4_0 exact up to the fp16 output; Q4_1 up to its fp16 offset -m/d (|m| * 2^-11 per weight)
        exact = PROJ_TYPES[name.split(".")[-1]] == "Q4_0"
        assert np.abs(got - want[name]).max() <= (1e-6 if exact else 2e-3) * np.abs(want[name]).max(), name

    # The table: the GGUF's Q8_0 blocks (uint8 data, fp16 scale per 32), read by the gather and the head alike.
    table = decoder.embed.weight.detach().numpy()
    assert np.abs(stored.embeddings["embed"] - table).max() <= np.abs(table).max() / 127 / 2 * 1.01  # Q8_0 steps
    from coremltools.converters.mil.mil import types

    sources = {op.op_type: _weight_source(op) for op in operations(program.mil)
               if op.op_type in ("gather", "linear") and "embed" in _weight_source(op).name}
    assert sources["gather"] is sources["linear"], "the tied table is stored twice"
    assert types.builtin_to_string(sources["gather"].data.dtype) == "uint8"


def _weight_source(op):
    return (op.x if op.op_type == "gather" else op.weight).op
