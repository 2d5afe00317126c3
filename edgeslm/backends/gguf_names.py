"""Which GGUF tensor holds each of the EdgeDecoder's weights, for the backends that carry GGUF blocks over.

Only llama GGUFs have a map (their q/k rows are permuted by llama.cpp; `onnx.gguf_carry.llama_unpermute_index`
undoes it). Names are the decoder's module names: `embed`, `lm_head`, `layers.<i>.<proj>`.
"""

from __future__ import annotations

CARRY_ARCHS = ("llama",)
LLAMA_GGUF = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def gguf_tensor_name(name: str, tensors: dict) -> str | None:
    """The GGUF tensor for decoder module `name` (`tensors`: the GGUF's tensors by name), or None."""
    if name == "embed":
        return "token_embd.weight"
    if name == "lm_head":  # tied models store no output.weight: the head reads the embedding table
        return "output.weight" if "output.weight" in tensors else "token_embd.weight"
    parts = name.split(".")  # layers.<i>.<proj>
    if len(parts) == 3 and parts[0] == "layers" and parts[2] in LLAMA_GGUF:
        return f"blk.{parts[1]}.{LLAMA_GGUF[parts[2]]}.weight"
    return None


def unpermute_rows_for(name: str, n_rows: int, heads: int, kv_heads: int):
    """The row index that undoes llama.cpp's q/k permute for module `name`, or None for other weights."""
    from edgeslm.backends.onnx.gguf_carry import llama_unpermute_index

    if name.endswith("q_proj"):
        return llama_unpermute_index(n_rows, heads)
    if name.endswith("k_proj"):
        return llama_unpermute_index(n_rows, kv_heads)
    return None
