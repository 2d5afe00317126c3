"""Same-input projections as one linear in the ExecuTorch program (backends/executorch/fuse_projections.py), and
XNNPACK's passes skipped where they have nothing to rewrite (backends/executorch/xnnpack_passes.py): the program
computes the same logits with fewer nodes, and skipping changes no byte of it."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("executorch.exir", reason="executorch is not installed")
pytest.importorskip("torchao")

from edgeslm.archs import ARCHS  # noqa: E402
from edgeslm.backends.executorch import lower as lower_module  # noqa: E402
from edgeslm.backends.executorch import quantize as quantize_module  # noqa: E402
from edgeslm.backends.executorch.fuse_projections import (FusedProjectionLayer, concat_linears,  # noqa: E402
                                                          fuse_layer_projections)
from edgeslm.backends.executorch.gguf_carry import Q41Linear, _block_sum  # noqa: E402
from edgeslm.backends.executorch.xnnpack_arithmetic import XnnpackQD8Linear  # noqa: E402
from edgeslm.quant import get_scheme  # noqa: E402


def _decoder(arch: str = "llama", positions: int = 64):
    from transformers import AutoModelForCausalLM

    from edgeslm.model.adapt import adapt

    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(ARCHS.get(arch).tiny_config()).eval()
    return adapt(hf, positions)


def _quantized_linears(quant: str, outs=(64, 32, 32), fan_in=64, bias=False) -> list[nn.Linear]:
    torch.manual_seed(1)
    linears = nn.ModuleList(nn.Linear(fan_in, n, bias=bias) for n in outs)
    if quant != "fp32":
        quantize_module._quantize(linears, get_scheme(quant), lambda m, fqn: isinstance(m, nn.Linear))
    return list(linears)


@pytest.mark.parametrize("quant", ["int4", "int8"])
def test_fused_weights_are_the_members_stored_weights(quant):
    members = _quantized_linears(quant)
    fused = concat_linears(members)
    assert fused is not None and fused.out_features == 128
    want = torch.cat([XnnpackQD8Linear(m).weight() for m in members])
    assert torch.equal(XnnpackQD8Linear(fused).weight(), want)
    x = torch.randn(3, 5, 64)
    got = XnnpackQD8Linear(fused)(x)
    assert torch.allclose(got, torch.cat([XnnpackQD8Linear(m)(x) for m in members], dim=-1), atol=1e-5, rtol=0)


def test_float_members_with_bias_fuse_and_mixed_storage_does_not():
    members = _quantized_linears("fp32", bias=True)
    fused = concat_linears(members)
    x = torch.randn(2, 64)
    assert torch.allclose(fused(x), torch.cat([m(x) for m in members], dim=-1), atol=1e-6, rtol=0)
    assert concat_linears([members[0], _quantized_linears("int4")[1]]) is None  # float beside int4
    assert concat_linears(_quantized_linears("int4")[:1] + _quantized_linears("int8")[1:]) is None


def test_q4_1_side_paths_fuse_with_their_offsets():
    block_sum = _block_sum(64)
    members = [Q41Linear(linear, torch.randn(linear.out_features, 2), block_sum)
               for linear in _quantized_linears("int4")]
    fused = concat_linears(members)
    assert isinstance(fused, Q41Linear) and fused.block_sum is block_sum
    x = torch.randn(4, 64)
    assert torch.allclose(fused(x), torch.cat([m(x) for m in members], dim=-1), atol=1e-5, rtol=0)
    other = Q41Linear(members[1].linear, members[1].offsets.weight, _block_sum(64))
    assert concat_linears([members[0], other]) is None  # each keeps its own block sums: not one projection


def test_a_decoder_computes_the_same_with_fused_projections(monkeypatch):
    from edgeslm.verify.layerwise import sequence_logits

    decoder = _decoder("llama")
    model, native, _ = quantize_module.quantize(decoder, get_scheme("int4"))
    layers = decoder.spec.layers
    assert native["fused_projections"] == 2 * layers
    assert all(type(layer) is FusedProjectionLayer for layer in model.layers)
    assert not hasattr(model.layers[0], "q_proj") and not hasattr(model.layers[0], "up_proj")
    monkeypatch.setattr(quantize_module, "fuse_layer_projections", lambda module: 0)
    unfused, native, _ = quantize_module.quantize(decoder, get_scheme("int4"))
    assert native["fused_projections"] == 0 and hasattr(unfused.layers[0], "q_proj")

    seqs = [np.arange(3, 19)]
    got = sequence_logits(model, model.layers, layers, seqs)[0]
    want = sequence_logits(unfused, unfused.layers, layers, seqs)[0]
    assert np.allclose(got, want, atol=1e-4, rtol=0)
    assert fuse_layer_projections(model) == 0  # nothing left to fuse


def _lowered(decoder, tmp_path, name: str, fuse: bool, skip_passes: bool, monkeypatch) -> bytes:
    with monkeypatch.context() as patch:
        if not fuse:
            patch.setattr(quantize_module, "fuse_layer_projections", lambda module: 0)
        if not skip_passes:
            patch.setattr(lower_module, "only_applicable_xnnpack_passes", lambda skipped: contextlib.nullcontext())
        model, _native, _ = quantize_module.quantize(decoder, get_scheme("int4"))
        path = tmp_path / f"{name}.pte"
        report = lower_module.lower_to_pte(model, 32, path, lower_module.runner_metadata(model, 32))
    return path, report


def _logits(path, steps):
    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    from edgeslm.backends.executorch.runner import load_runtime_ops

    load_runtime_ops()
    program = _load_for_executorch(str(path))
    return [program.forward((tokens, torch.tensor([pos])))[0].clone() for tokens, pos in steps]


def test_fused_program_gives_the_same_logits_and_skipped_passes_change_no_byte(tmp_path, monkeypatch):
    decoder = _decoder("llama", positions=32)
    fused, report = _lowered(decoder, tmp_path, "fused", True, True, monkeypatch)
    unfused, unfused_report = _lowered(decoder, tmp_path, "unfused", False, True, monkeypatch)
    every_pass, _ = _lowered(decoder, tmp_path, "every_pass", True, False, monkeypatch)

    assert fused.read_bytes() == every_pass.read_bytes()
    assert report.xnnpack_passes_skipped.get("ConvertToSDPAPass") == report.delegates
    assert "ConvertToLinearPass" not in report.xnnpack_passes_skipped  # it has linears to rewrite: it runs

    delegated = sum(report.delegated.values())
    assert delegated < sum(unfused_report.delegated.values())
    layers = decoder.spec.layers  # per layer, one input quantization for q/k/v and one for gate/up, not 3 + 2
    quantized_inputs = report.delegated["torchao.choose_qparams_affine"]
    assert quantized_inputs == unfused_report.delegated["torchao.choose_qparams_affine"] - 3 * layers

    steps = [(torch.arange(5, 14)[None], 0), (torch.tensor([[40]]), 9), (torch.tensor([[41]]), 10)]
    for got, want in zip(_logits(fused, steps), _logits(unfused, steps)):
        assert torch.equal(got, want)


def test_pass_gates_name_what_the_installed_passes_look_for():
    from executorch.backends.xnnpack._passes import XNNPACKPassManager
    from executorch.backends.xnnpack.partition.graphs import bilinear_2d, sdpa

    from edgeslm.backends.executorch.xnnpack_passes import _op_names, pass_gates

    gates = pass_gates()
    stock = XNNPACKPassManager(None).passes
    assert set(gates) <= set(stock)  # every gated pass is one XNNPACK runs
    # The pattern passes can only match a graph holding the op each gate asks for.
    assert all("aten.upsample_bilinear2d.vec" in _op_names(p.graph) for p in bilinear_2d.get_graphs_dict())
    assert all("aten._softmax.default" in _op_names(p.graph) for p in sdpa.get_graphs())
