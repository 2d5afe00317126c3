"""ExecuTorch fused attention with a static KV cache: `llama::update_cache` + `llama::custom_sdpa`.

The cache is a fixed-size buffer per layer, (1, max_len, H_kv, D) -- the layout ExecuTorch's llama ops
expect -- owned by `StaticCacheDecoder` and written in place at the start position, so one exported method
serves prefill (S tokens at position 0) and decode (1 token at position P) alike:

    forward(tokens (1, S) int64, input_pos (1,) int64) -> logits (1, S, V)

`custom_sdpa(q, k_cache, v_cache, start_pos, mask, 0.0, is_causal, scale)` reads keys 0 .. start_pos + S - 1
and shares each K/V head among heads / kv_heads query heads (GQA; checked against the reference). With
`is_causal` it masks by position itself; a sliding window (gemma3 local layers) needs an explicit float
mask of shape (S, max_len) instead (the op asserts mask width == cache length), built here from positions.
Rotary (rotate-half, first rotary_dim dims: partial rotary for phi) is applied before the cache write, with
the cos/sin tables sliced at start_pos by torch.narrow on a SymInt.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeslm.kernels.reference import AttentionParams


def load_custom_ops() -> None:
    """Register torch.ops.llama.* (update_cache, custom_sdpa): eager kernels, fake kernels, out variants."""
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half rotary on the first 2 * R/2 dims of x (B, S, H, D); cos/sin (S, R/2)."""
    half = cos.shape[-1]
    c, s = cos[:, None, :], sin[:, None, :]  # (S, 1, R/2): broadcast over heads
    x1, x2, rest = x[..., :half], x[..., half: 2 * half], x[..., 2 * half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s, rest], dim=-1)


def window_mask(start_pos, seq_len: int, max_len: int, window: int, dtype: torch.dtype) -> torch.Tensor:
    """(S, max_len) additive mask: 0 where q_pos - k_pos in [0, window), -inf elsewhere."""
    q_pos = torch.arange(seq_len, dtype=torch.long)[:, None] + start_pos  # (S, 1)
    k_pos = torch.arange(max_len, dtype=torch.long)[None, :]  # (1, max_len)
    delta = q_pos - k_pos  # (S, max_len)
    allowed = (delta >= 0) & (delta < window)
    zero = torch.zeros((), dtype=dtype)
    return torch.where(allowed, zero, torch.full((), float("-inf"), dtype=dtype))


class ExecuTorchSdpaKernel:
    """EdgeDecoder attention kernel: past_k / past_v are the layer's static cache buffers (1, max_len, H_kv, D),
    kernel_input is the start position (an int in eager mode, a SymInt under torch.export)."""

    name = "llama.custom_sdpa"

    def __init__(self) -> None:
        load_custom_ops()
        self.calls = 0  # custom_sdpa calls traced: one per layer per trace

    def __call__(self, q, k, v, k_cache, v_cache, start_pos, cos, sin, p: AttentionParams):
        b, s, _ = q.shape
        qh = q.view(b, s, p.heads, p.head_dim)  # (B, S, H, D)
        kh = k.view(b, s, p.kv_heads, p.head_dim)  # (B, S, H_kv, D)
        vh = v.view(b, s, p.kv_heads, p.head_dim)  # (B, S, H_kv, D)
        if p.rotary:
            c = torch.narrow(cos, 0, start_pos, s)  # (S, R/2)
            sn = torch.narrow(sin, 0, start_pos, s)  # (S, R/2)
            qh, kh = _rotate(qh, c, sn), _rotate(kh, c, sn)
        torch.ops.llama.update_cache(kh, k_cache, start_pos)
        torch.ops.llama.update_cache(vh, v_cache, start_pos)
        self.calls += 1
        if p.window > 0:
            mask = window_mask(start_pos, s, k_cache.shape[1], p.window, q.dtype)  # (S, max_len)
            out = torch.ops.llama.custom_sdpa(qh, k_cache, v_cache, start_pos, mask, 0.0, False, p.scale)
        else:
            out = torch.ops.llama.custom_sdpa(qh, k_cache, v_cache, start_pos, None, 0.0, True, p.scale)
        return out.reshape(b, s, p.heads * p.head_dim), k_cache, v_cache  # out (B, S, H, D) -> (B, S, H*D)


class StaticCacheDecoder(nn.Module):
    """Owns the per-layer K/V buffers and runs the decoder body with the ExecuTorch kernel.

    The buffers are state of the module: after `forward(tokens, [P])` positions 0 .. P + S - 1 hold keys and
    values; a later call at a smaller position (a reset) overwrites from there, and custom_sdpa / the window
    mask never read past start_pos + S - 1, so stale entries beyond are harmless.
    """

    def __init__(self, decoder, max_len: int):
        super().__init__()
        spec = decoder.spec
        if max_len > spec.max_positions:
            raise ValueError(f"max_len {max_len} exceeds the rotary/position tables ({spec.max_positions})")
        self.kernel = ExecuTorchSdpaKernel()
        self.decoder = decoder.with_kernel(self.kernel)
        self.max_len = max_len
        self.layers = spec.layers
        shape = (1, max_len, spec.kv_heads, spec.head_dim)  # (B, max_len, H_kv, D)
        dtype = decoder.embed.weight.dtype if hasattr(decoder.embed, "weight") else torch.float32
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            dtype = torch.float32
        for i in range(spec.layers):
            self.register_buffer(f"k_cache_{i}", torch.zeros(shape, dtype=dtype), persistent=False)
            self.register_buffer(f"v_cache_{i}", torch.zeros(shape, dtype=dtype), persistent=False)

    def caches(self) -> list[torch.Tensor]:
        return [getattr(self, f"{kv}_cache_{i}") for i in range(self.layers) for kv in ("k", "v")]

    def forward(self, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
        start = input_pos[0].item()
        seq_len = tokens.shape[1]
        torch._check(start >= 0)
        torch._check(start < self.max_len)
        torch._check(start + seq_len <= self.max_len)
        logits, _ = self.decoder.run(tokens, start, self.caches(), start)
        return logits  # (1, S, V)
