"""The ONNX graph traced with two layers and replicated (backends/onnx/replicate_layers.py) equals the full trace."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from conftest import ARCH_NAMES
from tiny import save_tiny_model

from edgeslm.archs import ARCHS
from edgeslm.backends.onnx.lower import lower_to_onnx
from edgeslm.backends.onnx.replicate_layers import NotReplicable, can_replicate, replicate
from edgeslm.model.adapt import adapt

LAYERS = 4


def _deep_decoder(arch: str, folder):
    from transformers import AutoModelForCausalLM

    config = ARCHS.get(arch).tiny_config()
    text = config.get_text_config()
    for attr in ("num_hidden_layers", "n_layer"):
        if hasattr(text, attr):
            setattr(text, attr, LAYERS)
    if getattr(text, "layer_types", None):
        text.layer_types = (list(text.layer_types) * LAYERS)[:LAYERS]
    save_tiny_model(config, folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    decoder = adapt(model, 64)
    # Untrained norms are all ones in every layer, and the exporter stores equal initializers once (layer 1 would
    # read layer 0's): real checkpoints differ per layer, and so do these after a perturbation.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in decoder.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=generator))
    return decoder


def _run(proto: onnx.ModelProto, spec, steps: list[list[int]]) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    cache = {f"past_key_values.{i}.{kv}": np.zeros((1, spec.kv_heads, 0, spec.head_dim), np.float32)
             for i in range(spec.layers) for kv in ("key", "value")}
    outs, total = [], 0
    for ids in steps:
        total += len(ids)
        got = dict(zip(names, session.run(None, {"input_ids": np.array([ids], np.int64),
                                                 "attention_mask": np.ones((1, total), np.int64), **cache})))
        cache = {k: got[k.replace("past_key_values", "present")] for k in cache}
        outs.append(got["logits"])
        outs.extend(got[k.replace("past_key_values", "present")] for k in sorted(cache))
    return outs


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_replicated_graph_equals_the_full_trace(arch, tmp_path):
    decoder = _deep_decoder(arch, tmp_path / arch)
    full, full_fallbacks = lower_to_onnx(decoder, tmp_path / "full.onnx", replicate_layers=False)
    fast, fast_fallbacks = lower_to_onnx(decoder, tmp_path / "fast.onnx", replicate_layers=True)
    if not can_replicate(decoder):  # gemma3 alternates sliding and full attention: traced whole
        assert arch.startswith("gemma3")
        return
    assert fast_fallbacks == full_fallbacks
    assert [n.name for n in fast.graph.node] != [n.name for n in full.graph.node]  # really the copied graph
    assert collections.Counter(n.op_type for n in fast.graph.node) == \
        collections.Counter(n.op_type for n in full.graph.node)
    assert [v.name for v in fast.graph.input] == [v.name for v in full.graph.input]
    assert [v.name for v in fast.graph.output] == [v.name for v in full.graph.output]
    weights = {t.name: numpy_helper.to_array(t) for t in full.graph.initializer}
    copied = {t.name: numpy_helper.to_array(t) for t in fast.graph.initializer}
    assert copied.keys() == weights.keys()
    for name, value in weights.items():
        np.testing.assert_array_equal(copied[name], value, err_msg=name)
    steps = [[3, 9, 17, 4, 11], [7], [12]]  # prefill, then two decode steps through the cache
    for got, want in zip(_run(fast, decoder.spec, steps), _run(full, decoder.spec, steps)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_shallow_decoders_and_odd_graphs_are_traced_whole(tmp_path):
    decoder = _deep_decoder("llama", tmp_path / "llama")
    from edgeslm.backends.onnx.replicate_layers import two_layer_decoder

    short = two_layer_decoder(decoder)
    assert short.spec.layers == 2 and len(short.layers) == 2 and len(decoder.layers) == LAYERS
    assert not can_replicate(short)  # nothing to copy
    from edgeslm.backends.onnx.lower import export_program, optimize_program

    program, _ = export_program(short)
    optimize_program(program)
    proto = program.model_proto
    for node in proto.graph.node:  # without the exporter's module scopes the layers cannot be found
        del node.metadata_props[:]
    with pytest.raises(NotReplicable):
        replicate(proto, decoder)


def test_a_layer_weight_stored_under_another_name_refuses_the_copy(tmp_path):
    """Equal small initializers are stored once by the exporter's optimizer: if layer 1's mlp norm equals its
    attention norm, layer 1 reads one name for both, and copies would read layers.i.attn_norm twice."""
    from edgeslm.backends.onnx.lower import export_program, optimize_program
    from edgeslm.backends.onnx.replicate_layers import two_layer_decoder

    decoder = _deep_decoder("llama", tmp_path / "llama")
    with torch.no_grad():
        decoder.layers[1].mlp_norm.weight.copy_(decoder.layers[1].attn_norm.weight)
    program, _ = export_program(two_layer_decoder(decoder))
    optimize_program(program)
    with pytest.raises(NotReplicable, match="does not read its own"):
        replicate(program.model_proto, decoder)
    fast, _ = lower_to_onnx(decoder, tmp_path / "fast.onnx", replicate_layers=True)  # falls back: full trace
    full, _ = lower_to_onnx(decoder, tmp_path / "full.onnx", replicate_layers=False)
    assert {t.name for t in fast.graph.initializer} == {t.name for t in full.graph.initializer}
    assert {"layers.2.mlp_norm.weight", "layers.3.mlp_norm.weight"} <= {t.name for t in fast.graph.initializer}
    steps = [[3, 9, 17, 4, 11], [7]]
    for got, want in zip(_run(fast, decoder.spec, steps), _run(full, decoder.spec, steps)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
