"""The ONNX backend: lower with fused GroupQueryAttention, quantize with onnxruntime, run with onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from edgeslm.backends.base import (Backend, Fallback, LowerContext, LoweredArtifact, LoweringCheck, ProfileRun,
                                   Progress, Support)
from edgeslm.backends.onnx.fuse_projections import fuse_projections
from edgeslm.backends.onnx.runner import MODEL_FILE, OnnxRunner
from edgeslm.backends.onnx.tied_tables import share_tied_tables
from edgeslm.quant import QuantScheme
from edgeslm.sources.gguf_blocks import CARRY_SCHEMES, grid_not_carried

if TYPE_CHECKING:  # lowering needs torch; running a bundle must not import it
    from edgeslm.model.decoder import EdgeDecoder
    from edgeslm.model.skeleton import Skeleton

SUPPORTED_QUANT = ("fp32", "int8", "int4")


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        key = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def float_weights(model: onnx.ModelProto, min_elements: int = 4096) -> list[str]:
    """The model's own weights (`*.weight_t` MatMul inputs, `*.weight` tables) still float after quantization:
    each is a fallback to record. Helper tensors added by the GGUF carry-over are exact and not counted."""
    floats = {i.name for i in model.graph.initializer
              if i.data_type == onnx.TensorProto.FLOAT and _numel(i.dims) >= min_elements
              and i.name.endswith((".weight_t", ".weight"))}
    used = set()
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) > 1:
            used.add(node.input[1])
        elif node.op_type == "Gather":
            used.add(node.input[0])
    return sorted(floats & used)


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _count_types(carried: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for _gguf_name, gtype, bits, op in carried.values():
        key = f"{gtype} -> {op} ({bits}-bit)"
        out[key] = out.get(key, 0) + 1
    return out


def carry_gguf_grid(model: onnx.ModelProto, gguf_path: Path, decoder: "EdgeDecoder"):
    from edgeslm.backends.onnx.gguf_carry import carry_over

    return carry_over(model, gguf_path, arch=decoder.spec.model_type, n_heads=decoder.spec.heads,
                      n_kv_heads=decoder.spec.kv_heads)


def onnx_artifact(model: onnx.ModelProto, io: dict, native: dict, fallbacks: list, scheme: QuantScheme
                  ) -> LoweredArtifact:
    """What a lowered ONNX graph records, from the graph alone (the in-memory and the streaming export)."""
    if not scheme.is_float:
        fallbacks = fallbacks + [Fallback(f"initializer {n}", "left in float32 by the quantizer")
                                 for n in float_weights(model)]
    ops = op_counts(model)
    return LoweredArtifact(
        files=[MODEL_FILE, MODEL_FILE + ".data"], io=io, quant=native, fallbacks=fallbacks,
        kernels={"fused_attention": ops.get("com.microsoft.GroupQueryAttention", 0), "op_counts": ops})


class OnnxBackend(Backend):
    name = "onnx"
    extension = ".onnx"
    host_runtime = "onnxruntime"

    def supports(self, model_type: str, scheme: QuantScheme) -> Support:
        if scheme.name not in SUPPORTED_QUANT:
            return Support(False, f"the onnx backend runs {', '.join(SUPPORTED_QUANT)} on the host; {scheme.name} "
                                  "has no CPU kernel for the fused attention in onnxruntime")
        return Support(True)

    def lower(self, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, context: LowerContext
              ) -> LoweredArtifact:
        from edgeslm.backends.onnx.lower import io_layout, lower_to_onnx
        from edgeslm.backends.onnx.quantize import quantize

        model, kernel_fallbacks = lower_to_onnx(decoder, out_dir / MODEL_FILE)
        fallbacks = [Fallback("attention rotary", why) for why in kernel_fallbacks.values()]
        carried = None
        gguf_source = context.gguf_path is not None and scheme.name in CARRY_SCHEMES
        why_not = gguf_source and grid_not_carried(scheme.name, decoder.spec.model_type)
        if why_not:
            fallbacks.append(Fallback("GGUF quantization grid", why_not))
        elif gguf_source:
            carried = carry_gguf_grid(model, Path(context.gguf_path), decoder)
            model = carried.model
            fallbacks += [Fallback(f"initializer {name}", f"GGUF {gtype} block not carried over ({why}); "
                                   "re-quantized from the dequantized weights")
                          for name, (_g, gtype, why) in carried.left_over.items()]
        # Only the model's own weights are quantized: MatMuls the GGUF carry-over added (block sums, float
        # residuals of Q4_1's offsets) are exact by construction and must stay float.
        skip = [n.name for n in model.graph.node
                if n.op_type == "MatMul" and len(n.input) > 1 and not n.input[1].endswith(".weight_t")]
        model, native = quantize(model, scheme, skip)
        if carried is not None:
            model, shared = share_tied_tables(model)
            native["gguf_carry_over"] = {
                "tied_table_stored_once": shared,
                "carried": len(carried.carried),
                "left_over": len(carried.left_over),
                "by_type": _count_types(carried.carried),
                "note": "GGUF Q4_0/Q4_1/Q8_0 blocks moved bit for bit into MatMulNBits/GatherBlockQuantized; "
                        "not re-rounded",
            }
        # Same-input projections into one MatMulNBits (q/k/v as GroupQueryAttention's packed QKV, gate/up):
        # the same bytes regrouped, fewer nodes per token (fuse_projections.py).
        model, native["fused_projections"] = fuse_projections(model)
        onnx.save_model(model, out_dir / MODEL_FILE, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=MODEL_FILE + ".data", size_threshold=1024)
        return onnx_artifact(model, io_layout(decoder), native, fallbacks, scheme)

    streams = True
    streamed_how = ("weight by weight", "weights")

    def lower_streamed(self, skel: "Skeleton", scheme: QuantScheme, out_dir: Path,
                       progress: Progress | None = None) -> tuple[LoweredArtifact, LoweringCheck]:
        """Trace the skeleton once, quantize and write weight by weight (backends/onnx/stream.py)."""
        from edgeslm.backends.onnx.lower import io_layout
        from edgeslm.backends.onnx.stream import lower_streaming

        proto, native, kernel_fallbacks = lower_streaming(skel, scheme, out_dir, MODEL_FILE, progress)
        native["streamed"] = True
        artifact = onnx_artifact(proto, io_layout(skel.decoder), native,
                                 [Fallback("attention rotary", why) for why in kernel_fallbacks.values()], scheme)
        return artifact, self.lowering_check(skel, scheme, out_dir)

    def lowering_check(self, skel: "Skeleton", scheme: QuantScheme, bundle_dir: Path) -> LoweringCheck:
        """The bundle's graph and bytes with float32 arithmetic in MatMulNBits (the shipped kernels quantize
        activations to int8 blocks: runtime arithmetic, not lowering) against the stored weights, dequantized
        (backends/onnx/stored_weights.py), run layer by layer in PyTorch."""
        from edgeslm.backends.onnx.stored_weights import StoredWeights
        from edgeslm.verify.layerwise import layerwise_logits
        from edgeslm.verify.thresholds import LOWERING_TOLERANCE

        def stored_logits(sequences, progress=None):
            import torch

            stored = StoredWeights(bundle_dir / MODEL_FILE)

            def value(name: str):
                return torch.from_numpy(stored.weight(name)) if name in stored else skel.values[name]()

            return layerwise_logits(skel.decoder, value, sequences, progress)

        return LoweringCheck(stored_logits, lambda threads: OnnxRunner(bundle_dir, threads, exact_arithmetic=True),
                             reference="layer-by-layer PyTorch run of the bundle's stored weights",
                             runtime="the bundle's graph and bytes, MatMulNBits in float32 arithmetic",
                             tolerance=LOWERING_TOLERANCE)

    def package(self, out_dir: Path, spec, generation: dict) -> list[str]:
        """Runtime configs beside the model: genai_config.json, so onnxruntime-genai loads the bundle as is."""
        from edgeslm.backends.onnx.genai_config import write_genai_config

        return [write_genai_config(out_dir, spec, generation, MODEL_FILE)]

    def runner(self, bundle_dir: Path, io: dict | None = None, threads: int | None = None) -> OnnxRunner:
        return OnnxRunner(bundle_dir, threads)

    def profiling_runner(self, bundle_dir: Path, io: dict, spec: dict) -> ProfileRun:
        """With --ops, onnxruntime's profiler records the timed runs themselves (its overhead is small and inside
        the figures); the operator table is read from its trace afterwards."""
        from edgeslm.backends.onnx.profiling import operator_table

        prefix = spec.get("op_profile_prefix")
        runner = OnnxRunner(bundle_dir, threads=spec.get("threads"), profile_prefix=prefix)
        if not prefix:
            return ProfileRun(runner)
        return ProfileRun(runner, lambda ids: (operator_table(runner.session.end_profiling()),
                                               {"profiler": "onnxruntime profiler, all runs"}))
