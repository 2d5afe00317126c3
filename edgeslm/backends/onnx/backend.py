"""The ONNX backend: lower with fused GroupQueryAttention, quantize with onnxruntime, run with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import onnx

from edgeslm.backends.base import LoweredArtifact, Support
from edgeslm.backends.onnx.lower import io_layout, lower_to_onnx
from edgeslm.backends.onnx.quantize import quantize
from edgeslm.backends.onnx.runner import MODEL_FILE, OnnxRunner
from edgeslm.model.decoder import EdgeDecoder
from edgeslm.quant import QuantScheme

SUPPORTED_QUANT = ("fp32", "int8", "int4")


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        key = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def float_initializers(model: onnx.ModelProto, min_elements: int = 4096) -> list[str]:
    """Large float weights left after quantization: each one is a fallback the manifest must name."""
    out = []
    for init in model.graph.initializer:
        size = 1
        for d in init.dims:
            size *= d
        if init.data_type == onnx.TensorProto.FLOAT and size >= min_elements:
            out.append(init.name)
    return out


class OnnxBackend:
    name = "onnx"
    extension = ".onnx"

    def supports(self, model_type: str, scheme: QuantScheme) -> Support:
        if scheme.name not in SUPPORTED_QUANT:
            return Support(False, f"the onnx backend runs {', '.join(SUPPORTED_QUANT)} on the host; {scheme.name} "
                                  "has no CPU kernel for the fused attention in onnxruntime")
        return Support(True)

    def lower(self, decoder: EdgeDecoder, scheme: QuantScheme, out_dir: Path, context: dict) -> LoweredArtifact:
        model, kernel_fallbacks = lower_to_onnx(decoder, out_dir / MODEL_FILE)
        model, native = quantize(model, scheme, skip=[])
        fallbacks = [{"what": "attention rotary", "reason": why} for why in kernel_fallbacks.values()]
        if not scheme.is_float:
            fallbacks += [{"what": f"initializer {n}", "reason": "left in float32 by the quantizer"}
                          for n in float_initializers(model)]
        onnx.save_model(model, out_dir / MODEL_FILE, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=MODEL_FILE + ".data", size_threshold=1024)
        ops = op_counts(model)
        return LoweredArtifact(
            files=[MODEL_FILE, MODEL_FILE + ".data"], io=io_layout(decoder), quant=native, fallbacks=fallbacks,
            kernels={"fused_attention": ops.get("com.microsoft.GroupQueryAttention", 0), "op_counts": ops})

    def runner(self, bundle_dir: Path, io: dict | None = None, threads: int | None = None) -> OnnxRunner:
        return OnnxRunner(bundle_dir, threads)
