"""The Core ML backend: a stateful-KV-cache ML program (iOS 18) with one fused attention op per layer,
weights quantized by coremltools.optimize, verified on the host without Core ML's runtime where it is absent."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from edgeslm.backends.base import (Backend, Fallback, LowerContext, LoweredArtifact, LoweringCheck, Progress,
                                   Support)
from edgeslm.backends.coreml.contract import HUB_NAME_KEY, MODEL_DIR
from edgeslm.backends.coreml.runner import CoreMLRunner
from edgeslm.errors import InternalError
from edgeslm.quant import QuantScheme

if TYPE_CHECKING:  # lowering needs torch and coremltools; running a bundle on a Mac needs only coremltools
    from edgeslm.model.decoder import EdgeDecoder
    from edgeslm.model.skeleton import Skeleton

SUPPORTED_QUANT = ("fp16", "int8", "int4")


class CoreMLBackend(Backend):
    name = "coreml"
    extension = ".mlpackage"
    host_runtime = None  # MLModel.predict exists on macOS only; `edgeslm profile --target ios` measures on the phone

    def supports(self, model_type: str, scheme: QuantScheme) -> Support:
        if scheme.name == "fp32":
            return Support(False, "Core ML on iPhone computes in float16 (the Neural Engine has no float32); "
                                  "a float32 package doubles the size of the fp16 baseline for no accuracy a "
                                  "phone can use: use --quant fp16 (the float baseline), int8 or int4")
        if scheme.name not in SUPPORTED_QUANT:
            return Support(False, f"the coreml backend maps {', '.join(SUPPORTED_QUANT)}; not {scheme.name}")
        return Support(True)

    def lower(self, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, context: LowerContext
              ) -> LoweredArtifact:
        from edgeslm.backends.coreml.convert import (QUANTIZED_OP_TYPES, WEIGHT_THRESHOLD, any_float_weight, convert,
                                                     native_quant, quantize, trace)
        from edgeslm.backends.coreml.gguf_carry import carrying, gguf_carry, register_carry_pass
        from edgeslm.sources.gguf_blocks import CARRY_SCHEMES, grid_not_carried

        spec = decoder.spec
        max_len = spec.max_positions
        started = time.perf_counter()
        fallbacks, carry, passes = [], None, ()
        gguf_source = context.gguf_path is not None and scheme.name in CARRY_SCHEMES
        why_not = gguf_source and grid_not_carried(scheme.name, spec.model_type)
        if why_not:
            fallbacks.append(Fallback("GGUF quantization grid", why_not))
        elif gguf_source:
            # Inside the conversion, before the quantizer: the carried blocks are no longer float, so coremltools
            # compresses the rest only.
            carry, passes = gguf_carry(decoder, Path(context.gguf_path), scheme.weight_bits), (register_carry_pass(),)
        traced = trace(decoder, max_len)
        with carrying(carry) if carry is not None else contextlib.nullcontext():
            mlmodel = convert(traced, max_len, tuple(traced.keyCache.shape), extra_passes=passes)
        del traced
        converted = time.perf_counter()
        if carry is not None:
            left_over, wider = carry.left_over, carry.wider
            carry_record = {"carried": len(carry.carried), "left_over": len(left_over),
                            "by_type": dict(Counter(carry.carried.values())),
                            "quantized_by_scheme": {name: f"GGUF {t}" for name, t in wider.items()},
                            "note": f"GGUF projection blocks no wider than {scheme.weight_bits} bits (Q4_0/Q4_1) "
                                    "and the embedding table at its GGUF width (Q8_0, once for the gather and the "
                                    "tied head) moved into constexpr_blockwise_shift_scale (Q4_1's offset -m/d "
                                    "rounded to fp16), not re-rounded; wider projection blocks quantized by "
                                    f"coremltools to the {scheme.name} scheme"}
            fallbacks += [Fallback(f"weight {name}", f"GGUF block not carried over ({why}); re-quantized from the "
                                   "dequantized weights") for name, why in left_over.items()]
        carried_at = time.perf_counter()
        needed = carry is None or bool(left_over or wider) \
            or any_float_weight(mlmodel, QUANTIZED_OP_TYPES, WEIGHT_THRESHOLD)
        if needed:  # else nothing is left for it, and its model round trip costs ~45 s on the default model
            mlmodel = quantize(mlmodel, scheme)
        quantized = time.perf_counter()
        native = {**native_quant(scheme), "quantizer_ran": needed,
                  "seconds": {"convert_and_gguf_carry": round(converted - started, 2),
                              "quantize": round(quantized - carried_at, 2)}}
        if carry is not None:
            native["gguf_carry_over"] = carry_record
        if context.hub_name:
            mlmodel.user_defined_metadata[HUB_NAME_KEY] = context.hub_name
        return _packaged(mlmodel, decoder, scheme, out_dir, fallbacks, native)

    streams = True
    streamed_how = ("projections quantized layer by layer while loading", "layers")

    def stream_blocker(self, scheme: QuantScheme) -> str | None:
        if scheme.is_float:
            return (f"Core ML packages in {scheme.name} store every weight as float; streamed, Core ML quantizes "
                    "while it loads (int4 or int8)")
        return None

    def lower_streamed(self, skel: "Skeleton", scheme: QuantScheme, out_dir: Path,
                       progress: Progress | None = None) -> tuple[LoweredArtifact, LoweringCheck]:
        """Projections quantized layer by layer while loading (backends/coreml/stream.py), traced and converted
        holding their int data only; the embedding tables quantized by coremltools as in memory. The quantized
        model stays in memory as the reference of (a)."""
        from edgeslm.backends.coreml.convert import convert, native_quant, quantize, trace
        from edgeslm.backends.coreml.stream import quantized_from_skeleton, register_projections_pass
        from edgeslm.backends.coreml.stream_check import streamed_check
        from edgeslm.pipeline.memory import return_freed_memory

        started = time.perf_counter()
        model = quantized_from_skeleton(skel, scheme, progress)
        loaded = time.perf_counter()
        max_len = skel.spec.max_positions
        traced = trace(model, max_len)
        mlmodel = convert(traced, max_len, tuple(traced.keyCache.shape), extra_passes=(register_projections_pass(),))
        del traced
        converted = time.perf_counter()
        mlmodel = quantize(mlmodel, scheme, op_types=("gather",))
        native = {**native_quant(scheme), "streamed": True,
                  "projections": "quantized while loading by coremltools' own blockwise_compress_by_dtype (the "
                                 "function linear_quantize_weights calls), converted from torchao dequantize_affine",
                  "seconds": {"quantize_while_loading": round(loaded - started, 2),
                              "convert": round(converted - loaded, 2),
                              "quantize_tables": round(time.perf_counter() - converted, 2)}}
        artifact = _packaged(mlmodel, model, scheme, out_dir, [], native)
        del mlmodel  # the converted program (every projection's int data): not needed to check the package
        return_freed_memory()
        return artifact, streamed_check(model, scheme, out_dir)

    def lowering_check(self, skel: "Skeleton", scheme: QuantScheme, bundle_dir: Path) -> LoweringCheck:
        """Re-quantizes the source layer by layer (deterministic: the weights the package was built from)."""
        from edgeslm.backends.coreml.stream import quantized_from_skeleton
        from edgeslm.backends.coreml.stream_check import streamed_check

        return streamed_check(quantized_from_skeleton(skel, scheme), scheme, bundle_dir)

    def runner(self, bundle_dir: Path, io: dict | None = None, threads: int | None = None) -> CoreMLRunner:
        return CoreMLRunner(bundle_dir, io, threads)

    def scoring_runner(self, bundle_dir: Path, io: dict | None, threads: int | None, make_decoder):
        """Off macOS, the weights read back from the package run in the PyTorch wrapper (as verify's
        stored_weights check); on macOS, MLModel.predict."""
        from edgeslm.backends.coreml.host_verify import coreml_runtime_available

        if coreml_runtime_available() is None:
            return self.runner(Path(bundle_dir), io, threads), f"host {self.name}"
        from edgeslm.backends.coreml.host_verify import with_stored_weights
        from edgeslm.backends.coreml.mil import load_program, stored_weights
        from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder

        decoder = make_decoder()
        clone = with_stored_weights(decoder, stored_weights(load_program(Path(bundle_dir) / MODEL_DIR).mil))
        return (EagerRunner(StatefulDecoder(clone, decoder.spec.max_positions).eval()),
                "host pytorch (weights read back from the Core ML package)")

    def verify(self, bundle_dir: Path, io: dict, references, scheme: QuantScheme, make_decoder, threads=None):
        """Core ML's runtime may be absent on this host (it exists on macOS only): run every check that does not
        need it (the traced wrapper, the package's structure, its stored weights dequantized in PyTorch), plus
        MLModel.predict where it exists. Returns the metrics to judge with the scheme's tolerance and the record of
        checks run / not run."""
        from edgeslm.backends.coreml.host_verify import host_verify

        return host_verify(make_decoder(), scheme, bundle_dir, references, threads,
                           runner_factory=lambda: self.runner(bundle_dir, io, threads))


def _packaged(mlmodel, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, fallbacks: list[Fallback],
              native: dict) -> LoweredArtifact:
    """Save the package and describe it from its own program: fused attention per layer (or fail), weights by
    storage, what stayed float, the I/O as the package declares it."""
    from edgeslm.backends.coreml.convert import io_layout
    from edgeslm.backends.coreml.mil import io_shapes, op_counts, storage

    spec = decoder.spec
    mlmodel.save(str(out_dir / MODEL_DIR))
    counts = op_counts(mlmodel._mil_program)
    kinds, float_left = storage(mlmodel._mil_program)
    fused = counts.get("scaled_dot_product_attention", 0)
    if fused != spec.layers:
        raise InternalError(f"expected {spec.layers} fused scaled_dot_product_attention ops, found {fused}",
                            hint="The attention did not stay one MIL op per layer; rerun with --debug.")
    if not scheme.is_float:
        fallbacks = fallbacks + [Fallback(f"weight {name}", "left in float16 by coremltools' quantizer")
                                 for name in float_left]
    package = out_dir / MODEL_DIR
    files = sorted(str(p.relative_to(out_dir)) for p in package.rglob("*") if p.is_file())
    io = {**io_layout(decoder, spec.max_positions), "coreml": io_shapes(_spec(package))}
    kernels = {
        "fused_attention": fused,
        "scaled_dot_product_attention": fused,
        "constexpr_blockwise_shift_scale": counts.get("constexpr_blockwise_shift_scale", 0),
        "weights_by_storage": kinds,
        "gqa": ("kv heads repeated (tile) before the fused op: the iOS 18 op needs equal head counts"
                if spec.heads != spec.kv_heads else "none (heads == kv_heads)"),
        "op_counts": counts,
    }
    return LoweredArtifact(files=files, io=io, quant=native, fallbacks=fallbacks, kernels=kernels)


def _spec(package: Path):
    import coremltools as ct

    return ct.models.MLModel(str(package), skip_model_load=True).get_spec()
