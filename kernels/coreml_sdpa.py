"""Core ML fused attention with the KV cache as model state (iOS 18: `scaled_dot_product_attention` + states).

`StatefulDecoder` wraps an EdgeDecoder for coremltools conversion, in the I/O convention of Hugging Face
swift-transformers' `LanguageModelWithStatefulKVCache` (Sources/Models/LanguageModel.swift), so that swift-chat
and other apps built on it load the package unchanged. It owns the KV cache as two buffers, `keyCache` and
`valueCache`, each (layers, 1, H_kv, max_len, D), which convert to Core ML states (`ct.StateType`): the app never
copies the cache in or out. Each call

    forward(inputIds (1, S) int32, causalMask (1, 1, Q, P + S + 1) float) -> logits (1, S, V)

takes the S new tokens; the mask's *width* carries the position: P = width - S - 1 tokens are already cached
(swift-transformers passes zeros of [1, 1, 1, tokens so far + 1] on every call, prefill included; its values are
not read). Causality and sliding windows are computed in the graph from P and S. One model serves a prompt of
any length (prefill, S flexible through ct.RangeDim) and single-token decode (S = 1). The kernel rotates q/k at
P, writes k/v into the state by slicing at [P, P + S) and attends over the first P + S cache rows.

Why this shape (measured with coremltools 9.0):
- transformers' static cache does not convert (`index_copy` is unsupported, `No matching select or slice`);
  a wrapper that owns the cache as buffers and writes them with slice assignment converts to `slice_update`
  on the state.
- `F.scaled_dot_product_attention(q, k, v, attn_mask=mask)` with NO `scale=` argument converts to one fused
  iOS 18 `scaled_dot_product_attention` op; passing `scale=` decomposes it into matmul + softmax. The op's own
  1/sqrt(D) applies, so q is pre-multiplied by scale * sqrt(D) when the model's scale differs (gemma3).
- The mask is built with masked_fill(-inf), never as 0/1 times a large negative: in the fp16 program that
  constant is -inf and 0 * -inf is NaN.
- Why not take the app's mask as is: swift-transformers' all-zero mask would make the prompt attend to later
  tokens, and its width is one more than the keys, so a model that trusted it would read the wrong position.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from edgeslm.backends.coreml.contract import position_mask_shape
from edgeslm.kernels.reference import AttentionParams, apply_rotary
from edgeslm.kernels.reference import causal_mask as reference_mask


class _Position:
    """What the kernel needs besides q/k/v: the additive causal mask and the cache position P."""

    def __init__(self, mask: torch.Tensor, past):
        self.mask = mask  # (1, 1, S, P + S)
        self.past = past  # int or traced size: P


def causal_mask(past, new: int, dtype=torch.float32, window: int = 0) -> torch.Tensor:
    """The additive mask (1, 1, S, P + S) the graph builds from the reference's band (kernels/reference.py):
    0 where query i (at P + i) sees key j, -inf where it does not."""
    hidden = ~reference_mask(past, new, window)
    return hidden.to(dtype).masked_fill(hidden, float("-inf"))[None, None]


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
        mask = position.mask if p.window <= 0 else causal_mask(past, s, position.mask.dtype, p.window)
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
        self.register_buffer("keyCache", torch.zeros(shape, dtype=dtype))
        self.register_buffer("valueCache", torch.zeros(shape, dtype=dtype))

    def forward(self, inputIds: torch.Tensor, causalMask: torch.Tensor) -> torch.Tensor:  # noqa: N803 (Core ML names)
        s = inputIds.shape[1]
        # width - (S + 1), not width - S - 1: coremltools' rank0_expand_dims_swap pass breaks the program when a
        # rank-0 'minus a constant' feeds both an expand_dims and other ops (seen on gemma3 int8)
        past = causalMask.shape[-1] - (s + 1)
        caches = []
        for i in range(self.layers):
            caches += [self.keyCache[i], self.valueCache[i]]  # views: the kernel writes through them
        mask = causal_mask(past, s, self.keyCache.dtype)
        logits, _ = self.decoder.run(inputIds, past, caches, _Position(mask, past))
        return logits

    def reset(self) -> None:
        self.keyCache.zero_()
        self.valueCache.zero_()


class EagerRunner:
    """Runner (edgeslm.backends.base) over the wrapper in PyTorch, eager or traced (the module converted)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper
        self.dtype = wrapper.keyCache.dtype
        self.length = 0

    def reset(self) -> None:
        self.wrapper.keyCache.zero_()  # a traced module keeps the buffers but not the reset() method
        self.wrapper.valueCache.zero_()
        self.length = 0

    def _step(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids).reshape(1, -1).to(torch.int32)
        mask = torch.zeros(position_mask_shape(self.length, ids.shape[1]), dtype=self.dtype)
        # No TorchScript re-optimization per new prompt length (it costs seconds and changes nothing here).
        with torch.no_grad(), torch.jit.optimized_execution(False):
            logits = self.wrapper(ids, mask)
        self.length += ids.shape[1]
        return logits[0].float().numpy()

    def prefill(self, input_ids):
        return self._step(input_ids)

    def decode(self, token_id: int):
        return self._step([[token_id]])[-1]
