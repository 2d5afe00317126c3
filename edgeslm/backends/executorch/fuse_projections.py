"""Same-input projections as one linear in the ExecuTorch program: q/k/v, and gate/up of a gated MLP.

Each projection of a decoder layer lowers to a chain of XNNPACK nodes (the int8 dynamic quantization of its input:
choose_qparams, quantize, dequantize; the weight's dequantize; the fully-connected node; with a carried Q4_1 GGUF,
the block sums, the offsets and an add). q, k and v read the same normed input, and so do gate and up, so the
chain runs once for the concatenated weights and the output is sliced: per layer 7 chains become 4.

Exact by construction: the output rows of a linear are independent, XNNPACK quantizes the input per row (token),
the same for every projection that reads it, and a carried Q4_1's offsets are per output row too. The program
serves the same numbers with fewer nodes, so it lowers faster (every ExecuTorch and XNNPACK pass re-traces each
node) and runs faster (one activation quantization instead of three).

Works on the backend's private, already quantized copy (after torchao and the GGUF carry): members are
concatenated as they are stored. Projections that are not stored alike (one carried from a Q4_1 block, one
re-quantized) stay separate.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeslm.backends.executorch.gguf_carry import Q41Linear
from edgeslm.model.decoder import Layer

FUSIONS = (("qkv_proj", ("q_proj", "k_proj", "v_proj")), ("gate_up_proj", ("gate_proj", "up_proj")))


class FusedProjectionLayer(Layer):
    """A decoder layer whose q/k/v (and gate/up) are one linear each; the output is sliced back."""

    fused_sizes: dict[str, list[int]]

    def project_qkv(self, x):
        sizes = self.fused_sizes.get("qkv_proj")
        if sizes is None:
            return super().project_qkv(x)
        return _slices(self.qkv_proj(x), sizes)

    def project_gate_up(self, x):
        sizes = self.fused_sizes.get("gate_up_proj")
        if sizes is None:
            return super().project_gate_up(x)
        return _slices(self.gate_up_proj(x), sizes)


def _slices(y: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    # Static slices of the last dim (XNNPACK delegates them); split_with_sizes has no XNNPACK node.
    out, start = [], 0
    for size in sizes:
        out.append(y[..., start:start + size])
        start += size
    return out


def fuse_layer_projections(module: nn.Module) -> int:
    """Fuse the same-input projections of every decoder layer inside `module` (in place); returns how many fused
    linears were made."""
    made = 0
    for layer in [m for m in module.modules() if type(m) is Layer]:
        sizes: dict[str, list[int]] = {}
        for fused_name, names in FUSIONS:
            members = [getattr(layer, n, None) for n in names]
            fused = concat_linears(members) if all(m is not None for m in members) else None
            if fused is None:
                continue
            setattr(layer, fused_name, fused)
            for n in names:
                delattr(layer, n)
            sizes[fused_name] = [_out_features(m) for m in members]
            made += 1
        if sizes:
            layer.__class__ = FusedProjectionLayer
            layer.fused_sizes = sizes
    return made


def _out_features(linear: nn.Module) -> int:
    return (linear.linear if isinstance(linear, Q41Linear) else linear).out_features


def concat_linears(members: list[nn.Module]) -> nn.Module | None:
    """One module computing the members' outputs side by side, stored exactly as they are; None when they are not
    stored alike."""
    if all(isinstance(m, Q41Linear) for m in members):
        if any(m.block_sum is not members[0].block_sum for m in members):
            return None
        inner = concat_linears([m.linear for m in members])
        if inner is None:
            return None
        offsets = torch.cat([m.offsets.weight for m in members])
        return Q41Linear(inner, offsets, members[0].block_sum)
    if not all(type(m) is nn.Linear for m in members):
        return None
    weight = _concat_weights([m.weight for m in members])
    if weight is None:
        return None
    biases = [m.bias for m in members]
    if all(b is None for b in biases):
        bias = None
    elif any(b is None for b in biases) or (bias := _concat_weights(biases)) is None:
        return None
    with torch.device("meta"):
        fused = nn.Linear(members[0].in_features, sum(m.out_features for m in members), bias=bias is not None)
    fused.weight = nn.Parameter(weight, requires_grad=False)
    if bias is not None:
        fused.bias = nn.Parameter(bias, requires_grad=False)
    return fused


def _concat_weights(weights: list[torch.Tensor]) -> torch.Tensor | None:
    from torchao.quantization import IntxUnpackedToInt8Tensor

    first = weights[0]
    if not isinstance(first, IntxUnpackedToInt8Tensor):  # float: plain tensors of one dtype only
        if any(type(w.data) is not torch.Tensor or w.dtype != first.dtype for w in weights):
            return None
        return torch.cat([w.detach() for w in weights])
    same = ("target_dtype", "block_size", "dtype", "activation_quantization")
    if any(not isinstance(w, IntxUnpackedToInt8Tensor) or w.shape[1] != first.shape[1]
           or w.scale.dtype != first.scale.dtype or w.zero_point.dtype != first.zero_point.dtype
           or w.qdata.dtype != first.qdata.dtype or any(getattr(w, a) != getattr(first, a) for a in same)
           for w in weights):
        return None
    return IntxUnpackedToInt8Tensor(torch.cat([w.qdata for w in weights]), torch.cat([w.scale for w in weights]),
                                    torch.cat([w.zero_point for w in weights]), first.target_dtype,
                                    first.block_size, first.dtype, first.activation_quantization)
