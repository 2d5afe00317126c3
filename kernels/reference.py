"""Plain-PyTorch reference attention with a KV cache: the ground truth every fused kernel is tested against.

Layout conventions shared by all kernels:
- q: (B, S, H * D), k and v: (B, S, H_kv * D), projected but not yet rotated;
- past_k / past_v: (B, H_kv, P, D), the cache of the P tokens before this call;
- cos / sin: (max_positions, rotary_dim / 2) tables; rotary is the non-interleaved (rotate-half) form
  applied to the first rotary_dim dims of each head (partial rotary for phi);
- the S new tokens sit at positions P .. P + S - 1 (batch 1, left-aligned, no padding);
- returns the attention output (B, S, H * D) and the present cache (B, H_kv, P + S, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AttentionParams:
    heads: int
    kv_heads: int
    head_dim: int
    scale: float
    window: int = 0  # sliding window: a query sees keys with (q_pos - k_pos) < window; 0 = unlimited
    rotary: bool = True


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half rotary on the first 2 * cos.shape[-1] dims of x (B, H, S, D); cos/sin (S, R/2)."""
    half = cos.shape[-1]
    rot, rest = x[..., : 2 * half], x[..., 2 * half:]
    x1, x2 = rot[..., :half], rot[..., half:]
    rotated = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    return torch.cat([rotated, rest], dim=-1)


def causal_mask(past: int, new: int, window: int, device=None) -> torch.Tensor:
    """(S, P + S) boolean: True where the query may attend the key."""
    q_pos = torch.arange(past, past + new, device=device)[:, None]
    k_pos = torch.arange(past + new, device=device)[None, :]
    allowed = k_pos <= q_pos
    if window > 0:
        allowed = allowed & ((q_pos - k_pos) < window)
    return allowed


def reference_attention(q, k, v, past_k, past_v, cos, sin, p: AttentionParams):
    b, s, _ = q.shape
    d = p.head_dim
    past = past_k.shape[2]
    qh = q.view(b, s, p.heads, d).transpose(1, 2)  # (B, H, S, D)
    kh = k.view(b, s, p.kv_heads, d).transpose(1, 2)  # (B, H_kv, S, D)
    vh = v.view(b, s, p.kv_heads, d).transpose(1, 2)  # (B, H_kv, S, D)
    if p.rotary:
        c, sn = cos[past: past + s], sin[past: past + s]  # (S, R/2)
        qh, kh = apply_rotary(qh, c, sn), apply_rotary(kh, c, sn)
    keys = torch.cat([past_k, kh], dim=2)  # (B, H_kv, P+S, D)
    values = torch.cat([past_v, vh], dim=2)  # (B, H_kv, P+S, D)
    groups = p.heads // p.kv_heads
    k_all = keys.repeat_interleave(groups, dim=1)  # (B, H, P+S, D)
    v_all = values.repeat_interleave(groups, dim=1)  # (B, H, P+S, D)
    scores = torch.matmul(qh, k_all.transpose(-1, -2)) * p.scale  # (B, H, S, P+S)
    mask = causal_mask(past, s, p.window, device=q.device)
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    out = torch.matmul(probs, v_all)  # (B, H, S, D)
    return out.transpose(1, 2).reshape(b, s, p.heads * d), keys, values
