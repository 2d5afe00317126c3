"""Carry a GGUF source's Q4_0 / Q4_1 blocks into torchao's 8da4w linears instead of re-rounding them.

The embedded default (SmolLM2 Q4_1) is already 4-bit on a grid of its own; re-quantizing its dequantized
weights onto torchao's symmetric int4 grid rounds every weight twice (measured on SmolLM2: 6.9 dB / 0.44 top-1,
a verify failure; weight-only or asymmetric int4 did not pass either). torchao's IntxUnpackedToInt8Tensor
holds per block of 32 along K: value = scale * (qdata - zero_point), qdata in [-8, 7], the layout XNNPACK's
QD8 x QB4W kernel runs with zero_point 0. Each ggml block goes in exactly:

    Q4_0: value = d * (q - 8)               -> qdata q - 8, scale d
    Q4_1: value = d * q + m = d * (q - 8) + (m + 8d)
                                            -> qdata q - 8, scale d, and the per-block constant (m + 8d) as an
                                               exact float side path: y += blocksum(x) @ offsets^T

The side path is two small float linears (x -> per-block sums -> outputs; 1/32 and 1/8 of the weight's
elements), which XNNPACK runs as fully-connected nodes in the same delegate. Q8_0 linears and the (tied Q8_0)
lm_head take 8-bit per-channel weights instead of 4-bit: re-rounding 8-bit blocks to 4 bits measured a top-1
drop of 0.94 -> 0.78 on the ONNX side. Only the 8-bit dynamic activations are left as error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeslm.errors import UserError
from edgeslm.sources.gguf_blocks import BLOCK, carry_decision, decode_blocks, read_gguf_tensors
from edgeslm.sources.gguf_names import gguf_tensor_name, unpermute_rows_for


@dataclass
class CarryPlan:
    """Which linears take which GGUF tensor: `four_bit` carry exactly, `eight_bit` go 8-bit per channel."""

    four_bit: dict[str, object] = field(default_factory=dict)  # module name -> gguf ReaderTensor
    eight_bit: dict[str, str] = field(default_factory=dict)  # module name -> GGUF type
    left_over: dict[str, str] = field(default_factory=dict)  # module name -> reason (quantized normally)


def plan_carry(model: nn.Module, gguf_path: Path) -> CarryPlan:
    _reader, tensors = read_gguf_tensors(gguf_path)
    plan = CarryPlan()
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        gname = gguf_tensor_name(name, tensors)
        if gname is None or gname not in tensors:
            plan.left_over[name] = f"no GGUF tensor for it ({gname})"
            continue
        kind = tensors[gname].tensor_type.name
        decision = carry_decision(kind, 4)
        if decision.kind == "carry" and name != "lm_head":
            plan.four_bit[name] = tensors[gname]
        elif decision.kind != "none":  # wider blocks (Q8_0), and the lm_head: 8-bit per channel
            plan.eight_bit[name] = kind
        else:
            plan.left_over[name] = f"GGUF {kind}: no exact int4 layout; re-quantized"
    return plan


class Q41Linear(nn.Module):
    """A carried Q4_1 linear: the symmetric int4 part plus the exact per-block constants as a float side path."""

    def __init__(self, linear: nn.Linear, offsets: torch.Tensor, block_sum: nn.Linear):
        super().__init__()
        self.linear = linear
        self.block_sum = block_sum  # (K -> K/32), shared by every linear with the same K
        self.offsets = nn.Linear(offsets.shape[1], offsets.shape[0], bias=False).requires_grad_(False)
        with torch.no_grad():
            self.offsets.weight.copy_(offsets)  # (N, K/32)

    def forward(self, x):
        return self.linear(x) + self.offsets(self.block_sum(x))


def _block_sum(k: int) -> nn.Linear:
    ones = torch.kron(torch.eye(k // BLOCK), torch.ones(1, BLOCK))  # (K/32, K): row b sums block b
    layer = nn.Linear(k, k // BLOCK, bias=False).requires_grad_(False)
    with torch.no_grad():
        layer.weight.copy_(ones)
    return layer


def _carried_weight(tensor, rows, like):
    """(qdata int8 (N, K), scale (N, K/32), offsets (N, K/32) or None) from one ggml tensor."""
    blocks = decode_blocks(tensor, rows=rows)
    q = blocks.q.astype(np.int8) - 8  # torchao's int4 range [-8, 7]; Q4_0's zero point is 8
    scale = blocks.scale
    offsets = None
    if blocks.offset is not None:  # Q4_1: d * q + m = d * (q - 8) + (m + 8d)
        offsets = blocks.offset + 8.0 * scale
    if tuple(q.shape) != tuple(like.shape):
        raise UserError(f"GGUF weight {tensor.name} is {tuple(q.shape)}, the model's is {tuple(like.shape)}",
                        hint="the GGUF and the model folder do not match; pass --no-gguf-carry")
    return torch.from_numpy(q.copy()), torch.from_numpy(np.array(scale, dtype=np.float32)), (
        None if offsets is None else torch.from_numpy(np.ascontiguousarray(offsets, dtype=np.float32)))


def apply_carry(model: nn.Module, plan: CarryPlan, heads: int, kv_heads: int) -> dict[str, str]:
    """Replace the 8da4w weights torchao wrote for `plan.four_bit` with the GGUF's own blocks (in place on the
    backend's private copy). Returns {module name: GGUF type} of what was carried."""
    from torchao.quantization import IntxUnpackedToInt8Tensor

    carried: dict[str, str] = {}
    block_sums: dict[int, nn.Linear] = {}
    for name, tensor in plan.four_bit.items():
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        linear = getattr(parent, attr)
        old = linear.weight
        if not isinstance(old, IntxUnpackedToInt8Tensor):
            plan.left_over[name] = "torchao did not quantize it to int4; nothing to carry into"
            continue
        rows = unpermute_rows_for(name, old.shape[0], heads, kv_heads)
        qdata, scale, offsets = _carried_weight(tensor, rows, old)
        new = IntxUnpackedToInt8Tensor(qdata, scale.to(old.scale.dtype), torch.zeros_like(old.zero_point),
                                       old.target_dtype, old.block_size, old.dtype, old.activation_quantization)
        linear.weight = nn.Parameter(new, requires_grad=False)
        if offsets is not None:
            k = old.shape[1]
            block_sum = block_sums.setdefault(k, _block_sum(k))
            setattr(parent, attr, Q41Linear(linear, offsets, block_sum))
        carried[name] = tensor.tensor_type.name
    return carried
