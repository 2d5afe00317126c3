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

from conftest import tiny_decoder  # noqa: E402
from edgeslm.backends.executorch import lower as lower_module  # noqa: E402
from edgeslm.backends.executorch import quantize as quantize_module  # noqa: E402
from edgeslm.backends.executorch.fuse_projections import (FusedProjectionLayer, concat_linears,  # noqa: E402
                                                          fuse_layer_projections)
from edgeslm.backends.executorch.gguf_carry import Q41Linear, _block_sum  # noqa: E402
from edgeslm.backends.executorch.xnnpack_arithmetic import XnnpackQD8Linear  # noqa: E402
from edgeslm.backends.executorch.xnnpack_passes import only_applicable_xnnpack_passes, pass_gates  # noqa: E402
from edgeslm.model.decoder import Layer  # noqa: E402
from edgeslm.quant import get_scheme  # noqa: E402


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

    decoder = tiny_decoder("llama")
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


def _with_side_paths(module: nn.Module) -> nn.Module:
    """Every int4 projection as a carried Q4_1 linear (seeded offsets, block sums shared per fan-in), as the GGUF
    carry leaves the default model: the fused program then holds the side paths too."""
    generator = torch.Generator().manual_seed(7)
    block_sums: dict[int, nn.Linear] = {}
    for layer in [m for m in module.modules() if type(m) is Layer]:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
            linear = getattr(layer, name, None)
            if isinstance(linear, nn.Linear):
                fan_in = linear.in_features
                offsets = torch.randn(linear.out_features, fan_in // 32, generator=generator) * 0.01
                setattr(layer, name, Q41Linear(linear, offsets, block_sums.setdefault(fan_in, _block_sum(fan_in))))
    return module


def _lowered(decoder, tmp_path, name: str, fuse: bool, skip_passes: bool, monkeypatch):
    real_fuse = quantize_module.fuse_layer_projections
    with monkeypatch.context() as patch:
        patch.setattr(quantize_module, "fuse_layer_projections",
                      lambda module: real_fuse(_with_side_paths(module)) if fuse else (_with_side_paths(module), 0)[1])
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
    """With Q4_1 side paths in every projection, as the default model has them."""
    decoder = tiny_decoder("llama", 32)
    fused, report = _lowered(decoder, tmp_path, "fused", True, True, monkeypatch)
    unfused, unfused_report = _lowered(decoder, tmp_path, "unfused", False, True, monkeypatch)
    every_pass, _ = _lowered(decoder, tmp_path, "every_pass", True, False, monkeypatch)

    assert fused.read_bytes() == every_pass.read_bytes()
    assert report.xnnpack_passes_skipped.get("ConvertToSDPAPass") == report.delegates
    assert set(report.xnnpack_passes_skipped) <= {p.__name__ for p in pass_gates()}  # ungated passes always run

    delegated = sum(report.delegated.values())
    assert delegated < sum(unfused_report.delegated.values())
    layers = decoder.spec.layers  # per layer, one input quantization for q/k/v and one for gate/up, not 3 + 2
    quantized_inputs = report.delegated["torchao.choose_qparams_affine"]
    assert quantized_inputs == unfused_report.delegated["torchao.choose_qparams_affine"] - 3 * layers

    steps = [(torch.arange(5, 14)[None], 0), (torch.tensor([[40]]), 9), (torch.tensor([[41]]), 10)]
    for got, want in zip(_logits(fused, steps), _logits(unfused, steps)):
        assert torch.equal(got, want)


# What each gated pass's own module says it acts on (its code, or for the pattern passes their pattern graphs).
GATE_WORDS = {"FuseBatchNormPass": ("native_batch_norm", "_native_batch_norm_legit_no_training"),
              "DecomposeBatchNorm": ("native_batch_norm", "_native_batch_norm_legit_no_training"),
              "Conv1dUnsqueezePass": ("aten.convolution.default",), "PReLUReshapePass": ("_prelu_kernel",),
              "InsertPadQDQPass": ("constant_pad_nd",),
              "RemoveGetItemPass": ("max_pool2d_with_indices", "aten.max.dim"),
              "DecomposeConcatenate": ("aten.cat.default", "<= 5"), "DimOrderOpsRevertPass": ("DimOrderOpsMap",)}


def test_pass_gates_name_what_the_installed_passes_look_for():
    import inspect

    from executorch.backends.xnnpack._passes import XNNPACKPassManager
    from executorch.backends.xnnpack.partition.graphs import bilinear_2d, sdpa

    from edgeslm.backends.executorch.xnnpack_passes import CONCAT_KEPT_WHOLE, _op_names

    gates = pass_gates()
    assert set(gates) <= set(XNNPACKPassManager(None).passes)  # every gated pass is one XNNPACK runs
    for pass_, words in GATE_WORDS.items():
        cls = next(p for p in gates if p.__name__ == pass_)
        source = inspect.getsource(inspect.getmodule(cls))
        assert all(w in source for w in words), (pass_, words)
    assert f"<= {CONCAT_KEPT_WHOLE}" in inspect.getsource(inspect.getmodule(
        next(p for p in gates if p.__name__ == "DecomposeConcatenate")))
    # The pattern passes can only match a graph holding the op each gate asks for.
    assert all("aten.upsample_bilinear2d.vec" in _op_names(p.graph) for p in bilinear_2d.get_graphs_dict())
    assert all("aten._softmax.default" in _op_names(p.graph) for p in sdpa.get_graphs())


class _GatedOps(nn.Module):
    """Ops some gated passes rewrite (a conv1d, then batch norm, then a cat of 6): no pass may be skipped where
    they are, and the program is the same either way."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3)
        self.norm = nn.BatchNorm1d(8)

    def forward(self, x):
        y = self.norm(self.conv(x))
        return torch.cat([y, y * 2, y + 1, y - 1, y * 3, y + 2], dim=1)


def test_passes_run_where_their_ops_are(tmp_path):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    module = _GatedOps().eval()
    module.norm.running_mean.uniform_(-1, 1)
    example = (torch.randn(1, 4, 16),)
    programs, skipped = [], {}
    for gated in (True, False):
        program = torch.export.export(module, example)
        with only_applicable_xnnpack_passes(skipped) if gated else contextlib.nullcontext():
            lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
        programs.append(lowered.buffer)
    assert programs[0] == programs[1]
    ran = {"FuseBatchNormPass", "Conv1dUnsqueezePass", "DecomposeConcatenate"}
    assert not ran & set(skipped), skipped
