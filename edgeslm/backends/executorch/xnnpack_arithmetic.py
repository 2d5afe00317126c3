"""What XNNPACK computes for a dynamically quantized linear, in PyTorch: the reference of the lowering check.

XNNPACK's QD8 fully-connected kernels quantize each row (token) of the activations to int8 themselves, with
their own parameters (google/XNNPACK src/xnnpack/quantization.h, xnn_f32_qd8_asymmetric_quantization_params):

    rmin = min(0, min(x)), rmax = max(0, max(x)), s = 255 / (rmax - rmin)           (float32; s = 1 if equal)
    zero point = -128 - rmin*s  if (-128 + rmin*s) + (127 + rmax*s) > 0  else  127 - rmax*s,
                 clamped to [-128, 127] and rounded to nearest even
    q = clamp(round(x * s) + zero point, -128, 127),   x ~ (q - zero point) / s

and multiply by the weights as the program stores them: int4 blocks with bfloat16 scales (QB4W; ExecuTorch's
XNNPACK node visitor converts the group scales), int8 rows with float32 scales (QC8W). torchao's own emulation
(the model's eager forward) keeps the group scales in float32: one int4 linear measured 53 dB against ExecuTorch,
this one 134 dB (tests/test_xnnpack_arithmetic.py). A whole model does not get that close: its attention and
norm kernels still differ from PyTorch's in the last bit, and an int8 rounding boundary turns that into a step
(verify/thresholds.py, EXECUTORCH_LOWERING_TOLERANCE).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def quantize_rows_like_xnnpack(x: torch.Tensor) -> torch.Tensor:
    """x (..., K) float -> the float values XNNPACK's int8 per-row quantization gives back."""
    xf = x.float()
    rmin = torch.clamp(xf.amin(-1, keepdim=True), max=0.0)
    rmax = torch.clamp(xf.amax(-1, keepdim=True), min=0.0)
    same = rmin == rmax
    s = torch.where(same, torch.ones_like(rmin), 255.0 / torch.where(same, torch.ones_like(rmin), rmax - rmin))
    from_min, from_max = -128.0 + rmin * s, 127.0 + rmax * s
    zero_point = torch.where(from_min + from_max > 0, -128.0 - rmin * s, 127.0 - rmax * s)
    zero_point = torch.round(torch.clamp(zero_point, -128.0, 127.0))
    q = torch.clamp(torch.round(xf * s) + zero_point, -128.0, 127.0)
    return (q - zero_point) * (1.0 / s)


class XnnpackQD8Linear(nn.Module):
    """A torchao 8-bit-dynamic-activation linear (IntxUnpackedToInt8Tensor weight) as XNNPACK runs it."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight
        self.qdata, self.zero_point = weight.qdata, weight.zero_point  # int8 (out, in); per block or row
        grouped = weight.block_size[-1] < linear.in_features  # QB4W: XNNPACK keeps these scales in bfloat16
        self.scale = weight.scale.to(torch.bfloat16).float() if grouped else weight.scale.float()
        self.bias = linear.bias

    def weight(self, rows: slice = slice(None)) -> torch.Tensor:
        """The stored weights of output rows `rows`, as float32 (int value - zero point) x scale."""
        qdata, scale, zero = self.qdata[rows], self.scale[rows], self.zero_point[rows]
        out, fan_in = qdata.shape
        groups = scale.reshape(out, -1).shape[1]
        blocks = qdata.reshape(out, groups, fan_in // groups).float()
        return ((blocks - zero.reshape(out, groups, 1).float()) * scale.reshape(out, groups, 1)).reshape(out, fan_in)

    def forward(self, x):
        xq = quantize_rows_like_xnnpack(x)
        # A few thousand output rows at a time: a 262k-row head dequantized whole would hold 2.7 GB of float32.
        step = max(1, (1 << 25) // self.qdata.shape[1])
        parts = [F.linear(xq, self.weight(slice(i, i + step))) for i in range(0, self.qdata.shape[0], step)]
        y = torch.cat(parts, dim=-1)
        if self.bias is not None:
            y = y + self.bias.float()
        return y.to(x.dtype)


def as_xnnpack_computes(model: nn.Module) -> nn.Module:
    """Every dynamically quantized linear of `model` replaced, in place, by its XNNPACK arithmetic."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and getattr(child.weight, "activation_quantization", None):
                setattr(parent, name, XnnpackQD8Linear(child))
    return model
