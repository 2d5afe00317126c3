"""Core ML fused attention with the KV cache as model state (iOS 18: `scaled_dot_product_attention` + states).

`StatefulDecoder` wraps an EdgeDecoder for coremltools conversion. It owns the KV cache as two buffers,
`k_cache` and `v_cache`, each (layers, 1, H_kv, max_len, D), which convert to Core ML states (`ct.StateType`):
the app never copies the cache in or out. Each call

    forward(input_ids (1, S) int32, causal_mask (1, 1, S, P + S) float) -> logits (1, S, V)

takes the S new tokens and an additive mask (0 = visible, -inf = hidden) whose width carries the position:
P = mask width - S tokens are already cached. One model serves a prompt of any length (prefill, S flexible
through ct.RangeDim) and single-token decode (S = 1). The kernel rotates q/k at P, writes k/v into the state
by slicing at [P, P + S) and attends over the first P + S cache rows.

Why this shape (measured with coremltools 9.0):
- transformers' static cache does not convert (`index_copy` is unsupported, `No matching select or slice`);
  a wrapper that owns the cache as buffers and writes them with slice assignment converts to `slice_update`
  on the state.
- `F.scaled_dot_product_attention(q, k, v, attn_mask=mask)` with NO `scale=` argument converts to one fused
  iOS 18 `scaled_dot_product_attention` op; passing `scale=` decomposes it into matmul + softmax. The op's own
  1/sqrt(D) applies, so q is pre-multiplied by scale * sqrt(D) when the model's scale differs (gemma3).
- Sliding-window layers (gemma3 local layers) add a band to the causal mask, computed in the graph from the
  positions (P + i - j >= window is hidden), so the app passes one mask for every layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from edgeslm.kernels.reference import AttentionParams, apply_rotary


class _Position:
    """What the kernel needs besides q/k/v: the additive causal mask and the cache position P."""

    def __init__(self, mask: torch.Tensor, past):
        self.mask = mask  # (1, 1, S, P + S)
        self.past = past  # int or traced size: P


def window_mask(mask: torch.Tensor, past, window: int) -> torch.Tensor:
    """The causal mask with keys at distance >= window hidden too (HF: visible iff q_pos - k_pos < window)."""
    s, total = mask.shape[-2], mask.shape[-1]
    q_pos = torch.arange(s, dtype=torch.int32)[:, None] + past  # (S, 1)
    k_pos = torch.arange(total, dtype=torch.int32)[None, :]  # (1, P + S)
    far = (q_pos - k_pos) >= window  # (S, P + S)
    return mask + far.to(mask.dtype) * torch.finfo(mask.dtype).min


class StateKernel:
    """Attention kernel for EdgeDecoder writing into a state-backed cache; past_k/past_v are the layer's
    cache views (1, H_kv, max_len, D) of the wrapper's buffers."""

    name = "coreml.scaled_dot_product_attention"

    def __call__(self, q, k, v, past_k, past_v, position: _Position, cos, sin, p: AttentionParams):
        b, s, _ = q.shape
        d = p.head_dim
        past = position.past
        qh = q.view(b, s, p.heads, d).transpose(1, 2)  # (B, H, S, D)
        kh = k.view(b, s, p.kv_heads, d).transpose(1, 2)  # (B, H_kv, S, D)
        vh = v.view(b, s, p.kv_heads, d).transpose(1, 2)  # (B, H_kv, S, D)
        if p.rotary:
            c, sn = cos[past: past + s].to(q.dtype), sin[past: past + s].to(q.dtype)  # (S, R/2)
            qh, kh = apply_rotary(qh, c, sn), apply_rotary(kh, c, sn)
        # Write the new rows into the state, then read the first P + S rows back.
        past_k[:, :, past: past + s] = kh
        past_v[:, :, past: past + s] = vh
        keys = past_k[:, :, : past + s]  # (B, H_kv, P+S, D)
        values = past_v[:, :, : past + s]  # (B, H_kv, P+S, D)
        groups = p.heads // p.kv_heads
        if groups > 1:
            keys = keys.repeat_interleave(groups, dim=1)  # (B, H, P+S, D)
            values = values.repeat_interleave(groups, dim=1)  # (B, H, P+S, D)
        mask = position.mask if p.window <= 0 else window_mask(position.mask, past, p.window)
        # No scale= argument: only then does the call stay one fused scaled_dot_product_attention MIL op. The op
        # divides by sqrt(D) itself, so q carries the rest of the model's scale (gemma3's query_pre_attn_scalar).
        q_scale = p.scale * math.sqrt(d)
        if abs(q_scale - 1.0) > 1e-6:
            qh = qh * q_scale
        out = F.scaled_dot_product_attention(qh, keys, values, attn_mask=mask)  # (B, H, S, D)
        return out.transpose(1, 2).reshape(b, s, p.heads * d), keys, values


class StatefulDecoder(nn.Module):
    """EdgeDecoder + KV-cache buffers: the module coremltools traces. Shares the decoder's weights."""

    def __init__(self, decoder, max_len: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        spec = decoder.spec
        self.decoder = decoder.with_kernel(StateKernel())
        self.layers = spec.layers
        shape = (spec.layers, 1, spec.kv_heads, max_len, spec.head_dim)  # (L, B, H_kv, max_len, D)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=dtype))
        self.register_buffer("v_cache", torch.zeros(shape, dtype=dtype))

    def forward(self, input_ids: torch.Tensor, causal_mask: torch.Tensor) -> torch.Tensor:
        s = input_ids.shape[1]
        past = causal_mask.shape[-1] - s
        caches = []
        for i in range(self.layers):
            caches += [self.k_cache[i], self.v_cache[i]]  # views: the kernel writes through them
        logits, _ = self.decoder.run(input_ids, past, caches, _Position(causal_mask, past))
        return logits

    def reset(self) -> None:
        self.k_cache.zero_()
        self.v_cache.zero_()


def causal_mask(past: int, new: int, dtype=torch.float32) -> torch.Tensor:
    """The additive mask input (1, 1, S, P + S) an app passes: 0 where visible, -inf where not."""
    q_pos = torch.arange(past, past + new)[:, None]
    k_pos = torch.arange(past + new)[None, :]
    mask = torch.zeros(new, past + new, dtype=dtype).masked_fill(k_pos > q_pos, float("-inf"))
    return mask[None, None]


class EagerRunner:
    """Runner (edgeslm.backends.base) over the wrapper in PyTorch, eager or traced (the module converted)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper
        self.dtype = wrapper.k_cache.dtype
        self.length = 0

    def reset(self) -> None:
        self.wrapper.k_cache.zero_()  # a traced module keeps the buffers but not the reset() method
        self.wrapper.v_cache.zero_()
        self.length = 0

    def _step(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids).reshape(1, -1).to(torch.int32)
        mask = causal_mask(self.length, ids.shape[1], self.dtype)
        # No TorchScript re-optimization per new prompt length (it costs seconds and changes nothing here).
        with torch.no_grad(), torch.jit.optimized_execution(False):
            logits = self.wrapper(ids, mask)
        self.length += ids.shape[1]
        return logits[0].float().numpy()

    def prefill(self, input_ids):
        return self._step(input_ids)

    def decode(self, token_id: int):
        return self._step([[token_id]])[-1]
