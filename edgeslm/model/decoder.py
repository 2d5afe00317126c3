"""EdgeDecoder: the canonical export-ready decoder every architecture is adapted into.

Inputs and outputs are flat tensors so that every exporter sees the same signature:

    forward(input_ids (B, S) int64, attention_mask (B, P + S) int64, k_0, v_0, ..., k_{L-1}, v_{L-1})
        -> (logits (B, S, V), present_k_0, present_v_0, ...)

with k_i / v_i of shape (B, H_kv, P, D). Linear weights are stored transposed (`<name>.weight_t`, shape
(in, out)) so that an exported graph's MatMul initializers keep a stable, readable name: quantizers and the
GGUF carry-over find `layers.3.q_proj.weight_t` by name. The attention itself is a pluggable kernel from
edgeslm.kernels: the plain reference in eager mode, a fused op per backend for export.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from edgeslm.kernels.reference import AttentionParams, reference_attention
from edgeslm.model.spec import DecoderSpec


class AttentionKernel(Protocol):
    name: str

    def __call__(self, q, k, v, past_k, past_v, attention_mask, cos, sin, p: AttentionParams): ...


class ReferenceKernel:
    """Eager plain-PyTorch attention; the ground truth."""

    name = "reference"

    def __call__(self, q, k, v, past_k, past_v, attention_mask, cos, sin, p):
        return reference_attention(q, k, v, past_k, past_v, cos, sin, p)


class Proj(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight_t = nn.Parameter(weight.detach().t().contiguous(), requires_grad=False)  # (in, out)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x):
        y = torch.matmul(x, self.weight_t)
        return y if self.bias is None else y + self.bias


class Norm(nn.Module):
    def __init__(self, kind: str, eps: float, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x):
        if self.kind == "layer":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        # RMSNorm in float32, as every HF implementation does, then back to the activation dtype. Written as
        # x / sqrt(mean(x^2) + eps): the pattern onnxruntime fuses into (Skip)SimplifiedLayerNormalization
        # (rsqrt exports as Reciprocal(Sqrt), which its fusion does not match: 5 ops per norm stay unfused).
        xf = x.float()
        xf = xf / torch.sqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).to(x.dtype)


_ACT = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class Layer(nn.Module):
    def __init__(self, spec: DecoderSpec, i: int, w: dict[str, torch.Tensor]):
        super().__init__()
        self.spec = spec
        pre = f"layers.{i}."

        def proj(name: str, with_bias: bool) -> Proj:
            return Proj(w[pre + name + ".weight"], w[pre + name + ".bias"] if with_bias else None)

        def norm(name: str, eps: float | None = None) -> Norm:
            bias = w.get(pre + name + ".bias") if spec.norm_bias else None
            return Norm(spec.norm if eps is None else "rms", eps or spec.norm_eps, w[pre + name + ".weight"], bias)

        self.attn_norm = norm("attn_norm")
        self.q_proj, self.k_proj, self.v_proj = (proj(n, spec.qkv_bias) for n in ("q_proj", "k_proj", "v_proj"))
        self.o_proj = proj("o_proj", spec.o_bias)
        if spec.qk_norm:
            self.q_norm = Norm("rms", spec.norm_eps, w[pre + "q_norm.weight"], None)
            self.k_norm = Norm("rms", spec.norm_eps, w[pre + "k_norm.weight"], None)
        if not spec.parallel_residual:
            self.mlp_norm = norm("mlp_norm")
        if spec.sandwich_norm:
            self.post_attn_norm = norm("post_attn_norm")
            self.post_mlp_norm = norm("post_mlp_norm")
        if spec.mlp == "gated":
            self.gate_proj = proj("gate_proj", spec.mlp_bias)
        self.up_proj = proj("up_proj", spec.mlp_bias)
        self.down_proj = proj("down_proj", spec.mlp_bias)
        self.act = _ACT[spec.activation]
        self.params = AttentionParams(spec.heads, spec.kv_heads, spec.head_dim, spec.scale,
                                      spec.window(i), spec.position == "rope")
        self.table = spec.rope_table(i)

    def _head_norm(self, x, norm: Norm, heads: int):
        b, s, _ = x.shape
        return norm(x.view(b, s, heads, self.spec.head_dim)).view(b, s, heads * self.spec.head_dim)

    def project_qkv(self, x):
        """(q, k, v) of the normed input; a backend may compute the three as one projection."""
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def attention(self, x, past_k, past_v, mask, cos, sin, kernel):
        q, k, v = self.project_qkv(x)
        if self.spec.qk_norm:
            q = self._head_norm(q, self.q_norm, self.spec.heads)
            k = self._head_norm(k, self.k_norm, self.spec.kv_heads)
        out, present_k, present_v = kernel(q, k, v, past_k, past_v, mask, cos, sin, self.params)
        return self.o_proj(out), present_k, present_v

    def project_gate_up(self, x):
        """(gate, up) of a gated MLP; a backend may compute the two as one projection."""
        return self.gate_proj(x), self.up_proj(x)

    def mlp(self, x):
        if self.spec.mlp == "gated":
            gate, up = self.project_gate_up(x)
            return self.down_proj(self.act(gate) * up)
        return self.down_proj(self.act(self.up_proj(x)))

    def forward(self, x, past_k, past_v, mask, cos, sin, kernel):
        h = self.attn_norm(x)
        attn, present_k, present_v = self.attention(h, past_k, past_v, mask, cos, sin, kernel)
        if self.spec.parallel_residual:
            return x + attn + self.mlp(h), present_k, present_v
        if self.spec.sandwich_norm:
            attn = self.post_attn_norm(attn)
        x = x + attn
        m = self.mlp(self.mlp_norm(x))
        if self.spec.sandwich_norm:
            m = self.post_mlp_norm(m)
        return x + m, present_k, present_v


class EdgeDecoder(nn.Module):
    def __init__(self, spec: DecoderSpec, weights: dict[str, torch.Tensor],
                 rope_tables: dict[str, tuple[torch.Tensor, torch.Tensor]], kernel: AttentionKernel | None = None):
        super().__init__()
        self.spec = spec
        self.kernel = kernel or ReferenceKernel()
        self.embed = nn.Embedding.from_pretrained(weights["embed.weight"].detach().clone(), freeze=True)
        if spec.position == "learned":
            self.pos_embed = nn.Embedding.from_pretrained(weights["pos_embed.weight"].detach().clone(), freeze=True)
        self.layers = nn.ModuleList(Layer(spec, i, weights) for i in range(spec.layers))
        self.norm = Norm(spec.norm, spec.norm_eps, weights["norm.weight"],
                         weights.get("norm.bias") if spec.norm_bias else None)
        # Untied on purpose: a separate lm_head can be quantized on its own (and int4 it is smaller and faster
        # than a tied float one shared with the Gather).
        self.lm_head = Proj(weights["lm_head.weight"], weights.get("lm_head.bias") if spec.lm_head_bias else None)
        for name, (cos, sin) in rope_tables.items():
            self.register_buffer(f"cos_{name}", cos.detach().clone().contiguous(), persistent=True)
            self.register_buffer(f"sin_{name}", sin.detach().clone().contiguous(), persistent=True)
        self._tables = tuple(rope_tables)

    def with_kernel(self, kernel: AttentionKernel) -> "EdgeDecoder":
        """A shallow copy that shares the weights and runs another attention kernel."""
        clone = object.__new__(EdgeDecoder)
        clone.__dict__ = dict(self.__dict__)
        clone.__dict__["kernel"] = kernel
        return clone

    def empty_cache(self, batch: int = 1, dtype: torch.dtype | None = None) -> list[torch.Tensor]:
        dtype = dtype or self.embed.weight.dtype
        shape = (batch, self.spec.kv_heads, 0, self.spec.head_dim)
        return [torch.zeros(shape, dtype=dtype) for _ in range(2 * self.spec.layers)]

    def run(self, input_ids, past_len, caches, kernel_input):
        """The decoder body, shared by every cache layout.

        `past_len` is the number of cached tokens before `input_ids` (an int, or a SymInt read from a position
        input when exporting with a static cache); `caches` holds 2 * layers tensors handed to the kernel as its
        past_k / past_v (a growing cache for ONNX, fixed-size cache buffers for ExecuTorch / Core ML);
        `kernel_input` is what the kernel needs besides (the attention mask for ONNX, the start position for a
        static cache). Returns the logits (B, S, V) and the kernel's 2 * layers present tensors.
        """
        x = self.embed_inputs(input_ids, past_len)
        presents = []
        for i, layer in enumerate(self.layers):
            cos, sin = self.layer_tables(layer)
            x, pk, pv = layer(x, caches[2 * i], caches[2 * i + 1], kernel_input, cos, sin, self.kernel)
            presents += [pk, pv]
        return self.head(x), presents

    def embed_inputs(self, input_ids, past_len):
        """Token (and learned position) embeddings of `input_ids`, which follow `past_len` cached tokens."""
        spec = self.spec
        x = self.embed(input_ids)
        if spec.embed_scale != 1.0:
            x = x * torch.tensor(spec.embed_scale, dtype=x.dtype)
        if spec.position == "learned":
            pos = torch.arange(input_ids.shape[1], device=input_ids.device) + past_len + spec.learned_position_offset
            x = x + self.pos_embed(pos)[None]
        return x

    def layer_tables(self, layer: Layer):
        """The cos/sin tables a layer's rotary uses (None, None without rope)."""
        table = layer.table if self.spec.position == "rope" else (self._tables[0] if self._tables else None)
        if not table:
            return None, None
        return getattr(self, f"cos_{table}"), getattr(self, f"sin_{table}")

    def head(self, x):
        return self.lm_head(self.norm(x))

    def forward(self, input_ids, attention_mask, *past):
        logits, presents = self.run(input_ids, past[0].shape[2], past, attention_mask)
        return (logits, *presents)
