"""Map edgeslm's quant schemes onto torchao (linears) and ExecuTorch's embedding quantizer (tables).

- int4: 8-bit dynamic per-token activations x int4 weights, symmetric, groups of 32 (torchao
  Int8DynamicActivationIntxWeightConfig): XNNPACK's QD8 x QB4W fully-connected kernels.
- int8: 8-bit dynamic activations x int8 weights per output channel: XNNPACK's QD8 x QC8W kernels.
  Not int8 weight-only: XNNPACK has no weight-only int8 linear, so it stayed float-sized and its
  dequantize pattern gave garbage logits when measured.
- embedding tables: 8-bit, groups of 32, through ExecuTorch's own EmbeddingQuantHandler
  (quantized_decomposed.embedding_byte has an ExecuTorch kernel; torchao's embedding quantizer left ops
  without out variants and failed at to_executorch).

Works on the copy rewrite.for_xnnpack makes (Proj -> nn.Linear, which the quantizer looks for): the shared
decoder is never edited.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter

import torch
from torch import nn

from edgeslm.backends.base import Fallback
from edgeslm.backends.executorch.fuse_projections import fuse_layer_projections
from edgeslm.backends.executorch.rewrite import for_xnnpack
from edgeslm.model.decoder import EdgeDecoder
from edgeslm.quant import QuantScheme, get_scheme
from edgeslm.sources.gguf_blocks import grid_not_carried

EMBED_BITS = 8
EMBED_GROUP = 32


def linear_config(scheme: QuantScheme):
    from torchao.quantization.granularity import PerAxis, PerGroup
    from torchao.quantization.quant_api import Int8DynamicActivationIntxWeightConfig

    if scheme.name == "int4":
        return Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4,
                                                     weight_granularity=PerGroup(scheme.group_size or 32))
    if scheme.name == "int8":
        return Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int8, weight_granularity=PerAxis(0))
    raise ValueError(f"no torchao mapping for {scheme.name}")


def quantize(decoder: EdgeDecoder, scheme: QuantScheme, gguf_path=None) -> tuple[EdgeDecoder, dict, list[Fallback]]:
    """Returns (the model to lower, the native quant config for the manifest, fallbacks).

    With `gguf_path` (a llama GGUF source) and int4, the GGUF's own 4-bit blocks are carried over (gguf_carry.py)
    instead of re-rounding the dequantized weights."""
    model = for_xnnpack(decoder)
    if scheme.is_float:
        return model, {"quantizer": "none", "weights": "float32",
                       "fused_projections": fuse_layer_projections(model)}, []
    skipped: list[Fallback] = []
    plan = None
    carry_fallbacks: list[Fallback] = []
    why_not = gguf_path and grid_not_carried(scheme.name, decoder.spec.model_type)
    if why_not:
        carry_fallbacks.append(Fallback("GGUF quantization grid", why_not))
    elif gguf_path:
        from edgeslm.backends.executorch.gguf_carry import plan_carry

        plan = plan_carry(model, gguf_path)

    carried: dict[str, str] = {}
    with torch.no_grad():
        quantize_linears(model, scheme, skipped, keep=plan.eight_bit if plan is not None else ())
        if plan is not None:
            from edgeslm.backends.executorch.gguf_carry import apply_carry

            if plan.eight_bit:
                _quantize(model, get_scheme("int8"), lambda m, fqn: isinstance(m, nn.Linear) and fqn in plan.eight_bit)
            carried = apply_carry(model, plan, decoder.spec.heads, decoder.spec.kv_heads)
            carry_fallbacks += [Fallback(f"linear {n}", f"GGUF block not carried over ({why}); re-quantized from "
                                         "the dequantized weights") for n, why in plan.left_over.items()]
    native, fallbacks = finish_quantized(model, scheme, skipped)
    if plan is not None:
        native["gguf_carry_over"] = {
            "carried_int4": len(carried), "eight_bit_per_channel": dict(sorted(plan.eight_bit.items())),
            "left_over": len(plan.left_over), "by_type": dict(Counter(carried.values())),
            "note": "GGUF Q4_0/Q4_1 blocks moved bit for bit into torchao int4 weights (Q4_1's block offsets as an "
                    "exact float side path); 8-bit GGUF tensors and the lm_head at 8 bits per channel"}
    return model, native, fallbacks + carry_fallbacks


def _quantize(module: nn.Module, scheme: QuantScheme, filter_fn) -> None:
    from torchao.quantization import quantize_

    quantize_(module, linear_config(scheme), filter_fn=filter_fn)


def quantize_linears(module: nn.Module, scheme: QuantScheme, skipped: list[Fallback], prefix: str = "",
                     keep=()) -> None:
    """The scheme's torchao config on every nn.Linear of `module` (the whole model, or one layer of a streamed
    export: `prefix` names it in fallbacks), except those in `keep` (fqn) and those a 4-bit group cannot tile,
    which stay float and are appended to `skipped`."""
    group = scheme.group_size or 32

    def wanted(linear: nn.Module, fqn: str) -> bool:
        if not isinstance(linear, nn.Linear) or fqn in keep:
            return False
        if scheme.name == "int4" and linear.in_features % group:
            skipped.append(Fallback(f"linear {prefix}{fqn}", f"in_features {linear.in_features} is not a multiple "
                                    f"of the group size {group}; left in float32"))
            return False
        return True

    with torch.no_grad():
        _quantize(module, scheme, wanted)


def finish_quantized(model: nn.Module, scheme: QuantScheme, skipped: list[Fallback]) -> tuple[dict, list[Fallback]]:
    """Once the linears are final (quantized, GGUF blocks carried): same-input projections fused, the embedding
    tables quantized; the manifest's native record and the fallbacks."""
    group = scheme.group_size or 32
    fused = fuse_layer_projections(model)
    tables = _quantize_embeddings(model)
    native = {
        "quantizer": "torchao.quantize_ + executorch EmbeddingQuantHandler",
        "linear": {"config": "Int8DynamicActivationIntxWeightConfig", "activations": "int8 dynamic per token, "
                   "asymmetric", "weight_dtype": f"int{scheme.weight_bits}",
                   "granularity": f"per group of {group}" if scheme.name == "int4" else "per output channel",
                   "symmetric": True, "lm_head": "untied, quantized like the other linears"},
        "embedding": {"bits": EMBED_BITS, "group_size": EMBED_GROUP, "op": "quantized_decomposed.embedding_byte",
                      "tables": tables},
        "note": "verify's distance to the fp32 reference is the quantization error of this scheme",
        "fused_projections": fused,
    }
    fallbacks = list(skipped)
    if scheme.weight_bits < EMBED_BITS:
        fallbacks.append(Fallback("embedding tables", f"{EMBED_BITS}-bit (scheme {scheme.name} asks "
                                  f"{scheme.weight_bits}-bit): ExecuTorch's embedding_4bit has no XNNPACK kernel and "
                                  "the table is read one row per token, so 8-bit costs size, not speed"))
    return native, fallbacks


def _quantize_embeddings(model: nn.Module) -> list[str]:
    from executorch.examples.models.llama.source_transformation.quantize import EmbeddingQuantHandler

    names = [n for n, m in model.named_modules() if isinstance(m, nn.Embedding)]
    # The handler prints one line per table to stdout; stdout is for results.
    with contextlib.redirect_stdout(io.StringIO()):
        EmbeddingQuantHandler(model, bitwidth=EMBED_BITS, group_size=EMBED_GROUP, packed=False,
                              quantize_with_hqq=False).quantized_model()
    return names
