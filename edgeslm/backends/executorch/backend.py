"""The ExecuTorch backend: torchao quantization, torch.export with a static KV cache and llama::custom_sdpa,
XNNPACK delegation, the pybindings runtime on the host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgeslm.backends.base import Backend, Fallback, LowerContext, LoweredArtifact, ProfileRun, Support
from edgeslm.backends.executorch.runner import MODEL_FILE, ExecuTorchRunner
from edgeslm.quant import QuantScheme

if TYPE_CHECKING:
    from edgeslm.model.decoder import EdgeDecoder

SUPPORTED_QUANT = ("fp32", "int8", "int4")


def _fallbacks(report) -> list[Fallback]:
    out = []
    for op, count in report.portable.items():
        if op in _BOOKKEEPING:
            continue
        why = _WHY_PORTABLE.get(op, "no XNNPACK kernel for this op / shape; runs on ExecuTorch's portable CPU kernel")
        out.append(Fallback(f"op {op} x{count}", f"not delegated to XNNPACK: {why}"))
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


class ExecuTorchBackend(Backend):
    name = "executorch"
    extension = ".pte"
    host_runtime = "executorch (pybindings)"

    def supports(self, model_type: str, scheme: QuantScheme) -> Support:
        if scheme.name not in SUPPORTED_QUANT:
            return Support(False, f"the executorch backend exports {', '.join(SUPPORTED_QUANT)}; {scheme.name} "
                                  "is not wired (XNNPACK's fp16 path needs an fp16 KV cache and custom_sdpa in fp16, "
                                  "not verified here)")
        return Support(True)

    def lower(self, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, context: LowerContext
              ) -> LoweredArtifact:
        from edgeslm.backends.executorch.lower import io_layout, lower_to_pte, runner_metadata
        from edgeslm.backends.executorch.quantize import quantize

        max_len = decoder.spec.max_positions
        model, native, fallbacks = quantize(decoder, scheme, context.gguf_path)
        metadata = runner_metadata(decoder, max_len)
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

    def profiling_runner(self, bundle_dir: Path, io: dict, spec: dict) -> ProfileRun:
        """With --ops, a separate ETDump-enabled pass after the timed runs: its per-op timestamps stay out of the
        figures."""
        threads = spec.get("threads")
        if threads:
            # Size ExecuTorch's process-wide pool before any program loads: XNNPACK delegates keep the pool they
            # were initialised with, and resizing it later (_unsafe_reset_threadpool frees the old pool) while a
            # program is loaded leaves them a dangling pointer (segfaults seen in decode).
            from executorch.extension.pybindings import portable_lib

            portable_lib._unsafe_reset_threadpool(threads)
        runner = self.runner(bundle_dir, io, threads)
        if not spec.get("op_profile_prefix"):
            return ProfileRun(runner)

        def operators(ids):
            from edgeslm.backends.executorch.etdump import profile_operators

            pte = Path(bundle_dir) / io.get("model_file", MODEL_FILE)
            found = profile_operators(pte, io, ids, spec["gen_len"], threads, spec["runs"],
                                      Path(spec["op_profile_prefix"]).parent)
            return found.rows, {**found.to_dict(), "runs": spec["runs"]}
        return ProfileRun(runner, operators)
