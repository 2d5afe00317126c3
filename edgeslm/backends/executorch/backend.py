"""The ExecuTorch backend: torchao quantization, torch.export with a static KV cache and llama::custom_sdpa,
XNNPACK delegation, the pybindings runtime on the host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgeslm.backends.base import LoweredArtifact, Support
from edgeslm.backends.executorch.runner import MODEL_FILE, ExecuTorchRunner
from edgeslm.quant import QuantScheme

if TYPE_CHECKING:
    from edgeslm.model.decoder import EdgeDecoder

SUPPORTED_QUANT = ("fp32", "int8", "int4")


def _fallbacks(report) -> list[dict]:
    out = []
    for op, count in report.portable.items():
        if op in _BOOKKEEPING:
            continue
        why = _WHY_PORTABLE.get(op, "no XNNPACK kernel for this op / shape; runs on ExecuTorch's portable CPU kernel")
        out.append({"what": f"op {op} x{count}", "reason": f"not delegated to XNNPACK: {why}"})
    return out


# Ops with no arithmetic to speak of: position bookkeeping and views the runtime resolves without copying data.
_BOOKKEEPING = {"_local_scalar_dense", "_assert_scalar", "sym_size.int", "ge", "le", "lt", "gt", "eq", "add", "sub",
                "mul", "view_copy", "select_copy.int", "auto_functionalized_v2", "llama.custom_sdpa"}
_WHY_PORTABLE = {
    "mean.dim": "XNNPACK's mean reduces only the two innermost dims of 4-D tensors; the RMSNorm mean over the "
                "hidden dim stays outside",
    "llama.update_cache": "ExecuTorch's own fused cache write (not an XNNPACK op)",
    "quantized_decomposed.embedding_byte.dtype": "quantized table lookup: ExecuTorch's quantized kernel",
    "embedding": "table lookup: ExecuTorch's portable kernel",
    "slice_copy.Tensor": "rotary slices at a runtime position (dynamic start)",
    "unsqueeze_copy": "rotary table broadcast",
}
_WINDOW_MASK_OPS = ("arange.start_step", "full", "where.self", "bitwise_and.Tensor", "ge.Scalar", "lt.Scalar",
                    "scalar_tensor", "_to_copy", "add.Tensor", "sub.Tensor")
_WHY_PORTABLE.update({op: "position arithmetic on the runtime start position (the sliding-window mask, or the "
                          "learned-position indices): small integer/mask ops, once per call" for op in _WINDOW_MASK_OPS})
_WHY_PORTABLE["native_layer_norm"] = "XNNPACK has no LayerNorm kernel in this ExecuTorch version"


class ExecuTorchBackend:
    name = "executorch"
    extension = ".pte"

    def supports(self, model_type: str, scheme: QuantScheme) -> Support:
        if scheme.name not in SUPPORTED_QUANT:
            return Support(False, f"the executorch backend exports {', '.join(SUPPORTED_QUANT)}; {scheme.name} "
                                  "is not wired (XNNPACK's fp16 path needs an fp16 KV cache and custom_sdpa in fp16, "
                                  "not verified here)")
        return Support(True)

    def lower(self, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, context: dict) -> LoweredArtifact:
        from edgeslm.backends.executorch.lower import io_layout, lower_to_pte, runner_metadata
        from edgeslm.backends.executorch.quantize import quantize

        max_len = decoder.spec.max_positions
        model, native, fallbacks = quantize(decoder, scheme, context.get("gguf_path"))
        metadata = runner_metadata(decoder, max_len, context.get("runner_metadata"))
        report = lower_to_pte(model, decoder, max_len, out_dir / MODEL_FILE, metadata)
        fallbacks += _fallbacks(report)
        native = {**native, "lowering_seconds": {k: round(v, 2) for k, v in report.seconds.items()}}
        return LoweredArtifact(
            files=[MODEL_FILE], io=io_layout(decoder, max_len), quant=native, fallbacks=fallbacks,
            kernels={"fused_attention": report.custom_sdpa, "delegate": "XnnpackBackend",
                     "delegated_subgraphs": report.delegates, "delegated_ops": report.delegated,
                     "portable_ops": report.portable, "runner_constant_methods": metadata})

    def runner(self, bundle_dir: Path, io: dict | None = None, threads: int | None = None) -> ExecuTorchRunner:
        max_len = (io or {}).get("max_positions")
        return ExecuTorchRunner(bundle_dir, threads, max_len=max_len)
