"""Which GGUF tensor holds each of the EdgeDecoder's weights, and the q/k row order llama.cpp changed.

Only llama GGUFs have a map (llama.cpp's converter interleaves the rotary pairs of q/k rows;
`llama_unpermute_index` undoes it). Names are the decoder's module names: `embed`, `lm_head`,
`layers.<i>.<proj>`. Every backend that carries GGUF blocks over reads this one map.
"""

from __future__ import annotations

import numpy as np

from edgeslm.errors import UserError

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


def llama_unpermute_index(n_rows: int, n_head: int) -> np.ndarray:
    """Row index undoing llama.cpp's q/k permute: ``W_hf = W_gguf[idx]``.

    Same reshape as transformers' ``LlamaTensorProcessor._reverse_permute_weights`` (pass n_kv_heads for
    attn_k), applied to row numbers instead of weights.
    """
    if n_rows % (2 * n_head):
        raise UserError(f"cannot undo the q/k permute: {n_rows} rows is not a multiple of 2 x {n_head} heads",
                        hint="check n_heads / n_kv_heads against the GGUF's llama.attention.* metadata")
    dim = n_rows // n_head // 2
    return np.arange(n_rows).reshape(n_head, dim, 2).swapaxes(2, 1).reshape(n_rows)


def unpermute_rows_for(name: str, n_rows: int, heads: int, kv_heads: int) -> np.ndarray | None:
    """The row index that undoes llama.cpp's q/k permute for module `name`, or None for other weights."""
    if name.endswith("q_proj"):
        return llama_unpermute_index(n_rows, heads)
    if name.endswith("k_proj"):
        return llama_unpermute_index(n_rows, kv_heads)
    return None
