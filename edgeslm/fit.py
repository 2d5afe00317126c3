"""Size and RAM from a config alone, no weights: will this model fit this target at this quant?

Two ways to get the facts: exactly, by building the model on the meta device (no memory, no weights) and
classifying each parameter; or analytically, from the catalog's config.json facts, for ``plan`` before any
download. A test holds the two equal on tiny configs of every family the analytic path knows.

What counts toward RAM (all of it resident: a memory-mapped weight file still lands in the page cache the
OS charges to the app once decode has touched every layer):
  weights + fp32 KV cache at max_seq_len + activations of one full-length prefill + a runtime constant.
"MB" in messages and the *_mb fields is MiB (2**20 bytes), as target RAM figures are.
State-space models (mamba) have no KV cache; their fixed recurrent state is not modelled yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeslm.errors import UnsupportedError, UserError
from edgeslm.quant import QuantScheme

if TYPE_CHECKING:
    from edgeslm.catalog import CatalogEntry
    from edgeslm.targets import Target

MIB = 1024 * 1024

# ORT / ExecuTorch runtime libraries, allocator arenas, the tokenizer in memory and the app's own heap
# around the model. Measured onnxruntime-android + tokenizers sessions sit at 80-120 MiB before the model
# loads; 150 MiB leaves room for the app. A stated constant, not a measurement of any one device.
RUNTIME_OVERHEAD_BYTES = 150 * MIB
# Bundle files besides weights: tokenizer.json grows with the vocabulary (token strings + merges, about
# 64 bytes per entry in the llama/gpt2 tokenizers we ship), plus manifest and configs (64 KiB).
TOKENIZER_BYTES_PER_VOCAB_ENTRY = 64
BUNDLE_FIXED_BYTES = 64 * 1024
FP32 = 4  # norms, biases, position tables and quant scales stay fp32 in every scheme

@dataclass(frozen=True)
class ModelFacts:
    model_type: str
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    max_context: int
    tie_word_embeddings: bool
    embedding_params: int  # the token embedding table only
    linear_params: int  # every 2-D matmul weight in the decoder (nn.Linear / GPT-2 Conv1D), lm_head excluded
    lm_head_params: int  # 0 when tied to the embedding
    other_params: int  # norms, biases, position embeddings, SSM state tensors
    # Sum of output channels over the matmul weights: int8 stores one fp32 scale per output channel.
    linear_out_channels: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab", "hidden", "layers", "embedding_params", "linear_params"):
            if getattr(self, name) <= 0:
                raise UserError(f"model facts: {name} must be positive, got {getattr(self, name)}")
        if self.tie_word_embeddings and self.lm_head_params:
            raise UserError("model facts: a tied lm_head has no parameters of its own",
                            hint="Set lm_head_params to 0 or tie_word_embeddings to false.")

    @property
    def total_params(self) -> int:
        return self.embedding_params + self.linear_params + self.lm_head_params + self.other_params

    @property
    def exported_params(self) -> int:
        """The parameters an export builds and holds: a tied head gets its own copy (the EdgeDecoder unties it to
        quantize it on its own). What the export's memory rates were measured against (pipeline/memory.py)."""
        return self.total_params + (self.vocab * self.hidden if self.tie_word_embeddings else 0)

    @classmethod
    def from_hf_config(cls, config: Any) -> ModelFacts:
        """Exact counts: instantiate on the meta device (shapes only, no storage) and classify."""
        import torch
        from torch import nn
        from transformers import AutoModelForCausalLM
        from transformers.pytorch_utils import Conv1D

        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        embed = model.get_input_embeddings()
        head = model.get_output_embeddings()
        tied = head is not None and head.weight is embed.weight

        seen: set[int] = set()  # tied tensors appear under two names; count each storage once
        embedding = linear = lm_head = out_channels = 0
        seen.add(id(embed.weight))
        embedding = embed.weight.numel()
        if head is not None and not tied:
            seen.add(id(head.weight))
            lm_head = head.weight.numel()
        for module in model.modules():
            if module is head:
                continue
            if isinstance(module, (nn.Linear, Conv1D)) and id(module.weight) not in seen:
                seen.add(id(module.weight))
                linear += module.weight.numel()
                # nn.Linear stores (out, in); GPT-2's Conv1D stores (in, out) and records out as nf.
                out_channels += module.nf if isinstance(module, Conv1D) else module.weight.shape[0]
        other = sum(p.numel() for p in model.parameters() if id(p) not in seen)

        heads = getattr(text, "num_attention_heads", 0) or 0
        hidden = text.hidden_size
        head_dim = getattr(text, "head_dim", None) or (hidden // heads if heads else 0)
        intermediate = (getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None)
                        or 4 * hidden)
        return cls(
            model_type=text.model_type, vocab=text.vocab_size, hidden=hidden, layers=text.num_hidden_layers,
            heads=heads, kv_heads=getattr(text, "num_key_value_heads", None) or heads, head_dim=head_dim,
            intermediate=intermediate, max_context=getattr(text, "max_position_embeddings", 0) or 0,
            tie_word_embeddings=tied, embedding_params=embedding, linear_params=linear,
            lm_head_params=lm_head, other_params=other, linear_out_channels=out_channels,
        )

    @classmethod
    def from_catalog(cls, entry: CatalogEntry) -> ModelFacts:
        """Analytic counts from the config.json facts, by the layer layout the architecture entry declares
        (`Sizing` in edgeslm/archs/base.py)."""
        from edgeslm.archs import sizing_for

        h, inter, n = entry.hidden, entry.intermediate, entry.layers
        mt = entry.model_type
        sizing = sizing_for(mt)
        if sizing is None:
            raise UnsupportedError(f"cannot size model_type {mt!r} from catalog facts alone",
                                   hint="Size it from its config instead (ModelFacts.from_hf_config), "
                                        "or declare its layer layout (Sizing) in its edgeslm/archs entry.")
        if sizing.layout == "gated":
            q, kv = entry.heads * entry.head_dim, entry.kv_heads * entry.head_dim
            linear = h * q + 2 * h * kv + q * h + 3 * h * inter  # q, k, v, o + gate, up, down
            channels = q + 2 * kv + h + 2 * inter + h
            other = 2 * h  # input and post-attention RMSNorm
            if sizing.qkv_bias:
                other += q + 2 * kv
            if sizing.sandwich_norm:
                other += 2 * h  # pre/post feed-forward norms
            if sizing.qk_norm:
                other += 2 * entry.head_dim  # q_norm and k_norm
            final = h
            positions = 0
        elif sizing.layout == "plain":
            # heads * head_dim == hidden in every plain family: fused or separate q, k, v, o are four h x h.
            linear = 4 * h * h + 2 * h * inter
            channels = 3 * h + h + inter + h
            biases = 4 * h + inter + h
            other = 2 * h * sizing.layer_norms + biases
            final = 2 * h
            rows = 0 if sizing.learned_positions is None else entry.max_context + sizing.learned_positions
            positions = rows * h
        else:  # mamba
            # HF MambaConfig defaults: state 16, conv kernel 4, dt_rank = ceil(hidden / 16).
            d_state, conv, dt_rank = 16, 4, math.ceil(h / 16)
            linear = h * 2 * inter + inter * (dt_rank + 2 * d_state) + dt_rank * inter + inter * h
            channels = 2 * inter + dt_rank + 2 * d_state + inter + h
            other = h + inter * d_state + inter + inter * conv + inter + inter  # norm, A_log, D, conv w+b, dt bias
            final = h
            positions = 0
        embedding = entry.vocab * h
        lm_head = 0 if entry.tie_word_embeddings else entry.vocab * h
        if sizing.lm_head_bias and not entry.tie_word_embeddings:
            positions += entry.vocab  # the lm_head's bias (phi): fp32, counted with the small tensors
        return cls(
            model_type=mt, vocab=entry.vocab, hidden=h, layers=n, heads=entry.heads, kv_heads=entry.kv_heads,
            head_dim=entry.head_dim, intermediate=inter, max_context=entry.max_context,
            tie_word_embeddings=entry.tie_word_embeddings, embedding_params=embedding,
            linear_params=n * linear, lm_head_params=lm_head, other_params=n * other + final + positions,
            linear_out_channels=n * channels,
        )


@dataclass(frozen=True)
class FitEstimate:
    weights_bytes: int
    bundle_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    runtime_overhead_bytes: int
    runtime_bytes: int  # weights + kv cache + activations + runtime overhead
    scheme: str = ""
    max_seq_len: int = 0

    def __post_init__(self) -> None:
        parts = self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.runtime_overhead_bytes
        if self.runtime_bytes != parts:
            raise UserError(f"fit estimate: runtime_bytes {self.runtime_bytes} is not the sum of its parts {parts}")


@dataclass(frozen=True)
class FitVerdict:
    fits: bool
    available_mb: float  # ram_budget_mb - os_kill_headroom_mb
    needed_mb: float
    margin_mb: float  # available - needed; negative when it does not fit


def _matmul_bytes(params: int, out_channels: int, scheme: QuantScheme, block_axis_len: int | None = None) -> int:
    """Bytes for 2-D weights stored the way ``scheme`` says."""
    if scheme.is_float:
        return params * scheme.weight_bits // 8
    if scheme.group_size is None:  # per output channel: one fp32 scale per row
        return params * scheme.weight_bits // 8 + FP32 * out_channels
    # blockwise along the input dim: one fp32 scale per group (ORT MatMulNBits pads a short last block)
    blocks = params // scheme.group_size if block_axis_len is None else (
        (params // block_axis_len) * math.ceil(block_axis_len / scheme.group_size))
    return math.ceil(params * scheme.weight_bits / 8) + FP32 * blocks


def table_bytes(facts: ModelFacts, scheme: QuantScheme) -> int:
    """Bytes for one vocab x hidden table (embedding or lm_head)."""
    n = facts.vocab * facts.hidden
    if scheme.is_float:
        return n * scheme.weight_bits // 8
    if not scheme.quantize_embedding:
        return n * FP32  # a quantized scheme that keeps tables float keeps them at full precision
    return _matmul_bytes(n, facts.vocab, scheme, block_axis_len=facts.hidden)


def estimate(facts: ModelFacts, scheme: QuantScheme, max_seq_len: int, untie_lm_head: bool = True) -> FitEstimate:
    """Bundle size and resident RAM for ``facts`` quantized with ``scheme``, decoding up to ``max_seq_len``.

    ``untie_lm_head``: exporters store a tied lm_head as its own MatMul weight (the embedding is a Gather,
    the head a MatMulNBits, and they quantize differently), so a tied model still pays for the table twice.
    """
    if max_seq_len <= 0:
        raise UserError(f"--max-seq-len must be positive, got {max_seq_len}")
    if facts.max_context and max_seq_len > facts.max_context:
        raise UserError(f"--max-seq-len {max_seq_len} is longer than the model's context of {facts.max_context}",
                        hint=f"Use --max-seq-len {facts.max_context} or less.")
    channels = facts.linear_out_channels or facts.linear_params // facts.hidden
    weights = _matmul_bytes(facts.linear_params, channels, scheme)
    weights += table_bytes(facts, scheme)  # embedding
    if facts.lm_head_params or (facts.tie_word_embeddings and untie_lm_head):
        weights += table_bytes(facts, scheme)
    weights += FP32 * facts.other_params

    bundle = weights + TOKENIZER_BYTES_PER_VOCAB_ENTRY * facts.vocab + BUNDLE_FIXED_BYTES
    # fp32 K and V for every layer (our exported caches are fp32 whatever the weight scheme).
    kv = 2 * facts.layers * facts.kv_heads * facts.head_dim * max_seq_len * FP32
    # One prefill of max_seq_len tokens in one chunk: residual stream in and out plus the attention output,
    # the two MLP intermediates (gate and up) alive together, and the last token's logits. Fused attention
    # kernels never materialise the (heads, seq, seq) score matrix, so it is not counted.
    activations = FP32 * (max_seq_len * (3 * facts.hidden + 2 * facts.intermediate) + facts.vocab)
    runtime = weights + kv + activations + RUNTIME_OVERHEAD_BYTES
    return FitEstimate(weights_bytes=weights, bundle_bytes=bundle, kv_cache_bytes=kv, activation_bytes=activations,
                       runtime_overhead_bytes=RUNTIME_OVERHEAD_BYTES, runtime_bytes=runtime,
                       scheme=scheme.name, max_seq_len=max_seq_len)


def check_fit(estimate: FitEstimate, target: Target) -> FitVerdict:
    available = float(target.ram_budget_mb - target.os_kill_headroom_mb)
    needed = estimate.runtime_bytes / MIB
    return FitVerdict(fits=needed <= available, available_mb=available, needed_mb=round(needed, 1),
                      margin_mb=round(available - needed, 1))


def require_fit(estimate: FitEstimate, target: Target, model_label: str, scheme_name: str) -> FitVerdict:
    """The verdict when it fits; an UnsupportedError with every number when it does not."""
    verdict = check_fit(estimate, target)
    if verdict.fits:
        return verdict

    def mb(n: int) -> str:
        return f"{n / MIB:,.0f} MB"

    message = (
        f"{model_label} at {scheme_name} needs {verdict.needed_mb:,.0f} MB of RAM on {target.name} "
        f"but an app may use {verdict.available_mb:,.0f} MB there ({target.ram_budget_mb:,} MB budget "
        f"- {target.os_kill_headroom_mb:,} MB OS-kill headroom on {target.reference_device}): "
        f"over by {-verdict.margin_mb:,.0f} MB. Weights {mb(estimate.weights_bytes)}, "
        f"KV cache {mb(estimate.kv_cache_bytes)} at {estimate.max_seq_len} tokens, "
        f"activations {mb(estimate.activation_bytes)}, runtime {mb(estimate.runtime_overhead_bytes)}."
    )
    hints = []
    if scheme_name != "int4":
        hints.append("a smaller quant (--quant int4 stores about 0.63 bytes per weight)")
    if estimate.kv_cache_bytes > MIB and estimate.max_seq_len > 256:
        hints.append(f"a shorter --max-seq-len (--max-seq-len {estimate.max_seq_len // 2} "
                     f"saves {mb(estimate.kv_cache_bytes // 2)} of KV cache)")
    hints.append("a smaller model (`edgeslm list models` shows their sizes)")
    raise UnsupportedError(message, hint="Try " + ", or ".join(hints) + ".",
                           details={"target": target.name, "model": model_label, "quant": scheme_name,
                                    "needed_mb": verdict.needed_mb, "available_mb": verdict.available_mb,
                                    "margin_mb": verdict.margin_mb, "weights_bytes": estimate.weights_bytes,
                                    "kv_cache_bytes": estimate.kv_cache_bytes, "max_seq_len": estimate.max_seq_len})
