"""Module rewrites that make an EdgeDecoder copy lower well to XNNPACK (the shared decoder is never edited).

- `Proj` (x @ weight_t) -> nn.Linear: what torchao's quantize_ and XNNPACK's fully-connected partitioner match
  (fp32 too: one fused FC instead of a transpose + matmul).
- RMSNorm's mean over the hidden dim -> a linear with a constant (1, hidden) row of 1/hidden. XNNPACK's mean
  reduces only the two innermost dims of a 4-D tensor, so `mean(-1)` stays on the portable CPU kernel and cuts
  every layer into 3-4 delegated subgraphs; each subgraph costs a fixed XNNPACK preprocess at export time and
  a delegate call at run time. As a matmul the whole norm joins its neighbours' subgraph. Same arithmetic
  (a float32 sum of squares divided by hidden).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from edgeslm.model.decoder import EdgeDecoder, Norm, Proj


def _to_linear(proj: Proj) -> nn.Linear:
    fan_in, fan_out = proj.weight_t.shape
    with torch.device("meta"):  # no random init of a weight replaced at once (a 262k-row head: seconds)
        linear = nn.Linear(fan_in, fan_out, bias=proj.bias is not None)
    linear.weight = nn.Parameter(proj.weight_t.detach().t().contiguous(), requires_grad=False)
    if proj.bias is not None:
        linear.bias = nn.Parameter(proj.bias.detach().clone(), requires_grad=False)
    return linear


class MatmulRMSNorm(nn.Module):
    """RMSNorm with the mean of squares as a matmul (delegable); float32 inside, like Norm."""

    def __init__(self, norm: Norm):
        super().__init__()
        hidden = norm.weight.shape[-1]
        self.eps = norm.eps
        self.weight = nn.Parameter(norm.weight.detach().clone(), requires_grad=False)
        self.register_buffer("mean_row", torch.full((1, hidden), 1.0 / hidden), persistent=False)  # (1, hidden)

    def forward(self, x):
        xf = x.float()
        # F.linear, not matmul: a 3-D matmul lowers to view + mm + view, and the dynamic-shape views split the
        # delegated subgraph; linear is one XNNPACK fully-connected node on any rank.
        mean_sq = F.linear(xf * xf, self.mean_row)  # (..., hidden) x (1, hidden)^T -> (..., 1)
        xf = xf / torch.sqrt(mean_sq + self.eps)
        return (xf * self.weight.float()).to(x.dtype)


def for_xnnpack(decoder: EdgeDecoder) -> EdgeDecoder:
    """A deep copy with every Proj as nn.Linear and every RMSNorm as MatmulRMSNorm."""
    return rewrite_in_place(copy.deepcopy(decoder))


def rewrite_in_place(module: nn.Module) -> nn.Module:
    """The same rewrite on a module edgeslm owns (a copy, or one layer of a streamed export); returns it."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Proj):
                setattr(parent, name, _to_linear(child))
            elif isinstance(child, Norm) and child.kind == "rms":
                setattr(parent, name, MatmulRMSNorm(child))
    return module
