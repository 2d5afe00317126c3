"""ONNX fused attention: onnxruntime's com.microsoft GroupQueryAttention, rotary fused in.

The kernel is a torch custom op (`edgeslm::gqa`) whose eager implementation is the plain reference
attention (so an adapted model runs and verifies in PyTorch unchanged) and whose ONNX translation is one
GroupQueryAttention node per layer: q/k/v projections in, rotary (when the model has rope), KV-cache
concatenation, GQA head sharing, causal and sliding-window masking and softmax fused inside.
Models without rope (gpt2, biogpt) use the same op with do_rotary=0 and kv_num_heads == num_heads.
"""

from __future__ import annotations

import onnxscript
import torch
from onnx.defs import OpSchema

from edgeslm.kernels.reference import AttentionParams, apply_rotary, reference_attention

DOMAIN = "com.microsoft"
_MSFT = onnxscript.values.Opset(DOMAIN, 1)


@torch.library.custom_op("edgeslm::gqa", mutates_args=())
def gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor,
        seqlens_k: torch.Tensor, total_len: torch.Tensor, cos: torch.Tensor | None, sin: torch.Tensor | None,
        heads: int, kv_heads: int, scale: float, window: int, rotary: bool
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    p = AttentionParams(heads, kv_heads, past_k.shape[-1], scale, window, rotary)
    out, present_k, present_v = reference_attention(q, k, v, past_k, past_v, cos, sin, p)
    return out, present_k.clone(), present_v.clone()


@gqa.register_fake
def _gqa_shapes(q, k, v, past_k, past_v, seqlens_k, total_len, cos, sin, heads, kv_heads, scale, window, rotary):
    b, s, _ = q.shape
    present = (b, kv_heads, past_k.shape[2] + s, past_k.shape[3])  # (B, H_kv, P+S, D)
    return q.new_empty(b, s, q.shape[2]), past_k.new_empty(present), past_v.new_empty(present)


def _schema() -> OpSchema:
    """onnx has no schema for contrib ops; onnxscript needs one to build the node."""
    fp = OpSchema.FormalParameter
    names = ["query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length",
             "cos_cache", "sin_cache"]
    ints = {"seqlens_k", "total_sequence_length"}
    attr = OpSchema.Attribute
    return OpSchema(
        "GroupQueryAttention", DOMAIN, 1,
        inputs=[fp(n, "M" if n in ints else "T") for n in names],
        outputs=[fp(n, "T") for n in ("output", "present_key", "present_value")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], ""), ("M", ["tensor(int32)"], "")],
        attributes=[attr("num_heads", OpSchema.AttrType.INT, ""), attr("kv_num_heads", OpSchema.AttrType.INT, ""),
                    attr("scale", OpSchema.AttrType.FLOAT, ""), attr("do_rotary", OpSchema.AttrType.INT, ""),
                    attr("local_window_size", OpSchema.AttrType.INT, "")],
    )


_GQA_OP = onnxscript.values.Op(_MSFT, "GroupQueryAttention", _schema())


def gqa_to_onnx(q, k, v, past_k, past_v, seqlens_k, total_len, cos, sin,
                heads: int, kv_heads: int, scale: float, window: int, rotary: bool):
    # local_window_size == window reproduces HF's `q_pos - k_pos < window` (checked against the reference).
    return _GQA_OP(q, k, v, past_k, past_v, seqlens_k, total_len, cos, sin,
                   num_heads=heads, kv_num_heads=kv_heads, scale=scale, do_rotary=int(rotary),
                   local_window_size=window if window > 0 else -1, _num_outputs=3)


TRANSLATIONS = {torch.ops.edgeslm.gqa.default: gqa_to_onnx}


def fused_rotary_unsupported(rotary_half: int, head_dim: int) -> str | None:
    """Why onnxruntime's GQA cannot fuse this rotary, or None when it can."""
    if rotary_half % 8 or rotary_half > head_dim // 2:
        return (f"GroupQueryAttention needs cos_cache width (rotary_dim / 2 = {rotary_half}) to be a multiple of 8 "
                f"and <= head_dim / 2 = {head_dim // 2}; rotary runs as separate ops before the fused attention")
    return None


class OnnxGQAKernel:
    """Attention kernel for EdgeDecoder that exports as GroupQueryAttention.

    `fallbacks` collects, per layer, what could not be fused and why (recorded in the manifest).
    """

    name = "com.microsoft.GroupQueryAttention"

    def __init__(self) -> None:
        self.fallbacks: dict[str, str] = {}

    def __call__(self, q, k, v, past_k, past_v, attention_mask, cos, sin, p: AttentionParams):
        # GQA's contract: seqlens_k = valid tokens - 1 per batch row, total = mask width (int32).
        seqlens_k = (attention_mask.sum(dim=1) - 1).to(torch.int32)
        total_len = torch.zeros((), dtype=torch.int32) + attention_mask.shape[1]
        rotary = p.rotary
        if rotary and (why := fused_rotary_unsupported(cos.shape[-1], p.head_dim)):
            self.fallbacks["rotary"] = why
            q, k = _rotate_outside(q, k, past_k.shape[2], cos, sin, p)
            rotary = False
        if not rotary:  # optional inputs of the op: absent without rotary
            cos = sin = None
        return torch.ops.edgeslm.gqa(q, k, v, past_k, past_v, seqlens_k, total_len, cos, sin,
                                     p.heads, p.kv_heads, p.scale, p.window, rotary)


def _rotate_outside(q, k, past: int, cos, sin, p: AttentionParams):
    b, s, _ = q.shape
    c, sn = cos[past: past + s], sin[past: past + s]  # (S, R/2)
    qh = apply_rotary(q.view(b, s, p.heads, p.head_dim).transpose(1, 2), c, sn)  # (B, H, S, D)
    kh = apply_rotary(k.view(b, s, p.kv_heads, p.head_dim).transpose(1, 2), c, sn)  # (B, H_kv, S, D)
    return qh.transpose(1, 2).reshape(b, s, -1), kh.transpose(1, 2).reshape(b, s, -1)
