"""The ExecuTorch backend: torchao quantization, torch.export with a static KV cache and llama::custom_sdpa,
XNNPACK delegation, the pybindings runtime on the host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgeslm.backends.base import (Backend, Fallback, LowerContext, LoweredArtifact, LoweringCheck, ProfileRun,
                                   Progress, Support)
from edgeslm.backends.executorch.runner import MODEL_FILE, ExecuTorchRunner
from edgeslm.quant import QuantScheme

if TYPE_CHECKING:
    from edgeslm.model.decoder import EdgeDecoder
    from edgeslm.model.skeleton import Skeleton

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


def _lowered(model: "EdgeDecoder", max_len: int, native: dict, fallbacks: list[Fallback], out_dir: Path
             ) -> LoweredArtifact:
    from edgeslm.backends.executorch.lower import io_layout, lower_to_pte, runner_metadata

    metadata = runner_metadata(model, max_len)
    report = lower_to_pte(model, max_len, out_dir / MODEL_FILE, metadata)
    native = {**native, "lowering_seconds": {k: round(v, 2) for k, v in report.seconds.items()}}
    return LoweredArtifact(
        files=[MODEL_FILE], io=io_layout(model, max_len), quant=native, fallbacks=fallbacks + _fallbacks(report),
        kernels={"fused_attention": report.custom_sdpa, "delegate": "XnnpackBackend",
                 "delegated_subgraphs": report.delegates, "delegated_ops": report.delegated,
                 "portable_ops": report.portable, "runner_constant_methods": metadata,
                 "xnnpack_passes_skipped": report.xnnpack_passes_skipped})


def _check(quantized: "EdgeDecoder") -> LoweringCheck:
    """The .pte as shipped against the quantized model it was lowered from, run in PyTorch over whole sequences
    with XNNPACK's own arithmetic (backends/executorch/xnnpack_arithmetic.py: its int8 activation rounding, the
    weights as it stores them). Takes the model over: call it after lowering."""
    from edgeslm.backends.executorch.xnnpack_arithmetic import as_xnnpack_computes
    from edgeslm.verify.layerwise import sequence_logits
    from edgeslm.verify.thresholds import EXECUTORCH_LOWERING_TOLERANCE

    as_xnnpack_computes(quantized)

    def stored_logits(sequences, progress=None):
        return sequence_logits(quantized, quantized.layers, len(quantized.layers), sequences, progress)

    return LoweringCheck(stored_logits, None,
                         reference="PyTorch run of the quantized model the program was lowered from, in XNNPACK's "
                                   "arithmetic (its int8 activation rounding, bfloat16 group scales)",
                         runtime="the .pte as shipped (XNNPACK QD8 kernels)",
                         tolerance=EXECUTORCH_LOWERING_TOLERANCE)


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
        from edgeslm.backends.executorch.quantize import quantize

        model, native, fallbacks = quantize(decoder, scheme, context.gguf_path)
        return _lowered(model, decoder.spec.max_positions, native, fallbacks, out_dir)

    streams = True
    streamed_how = ("quantized layer by layer while loading", "layers")

    def stream_blocker(self, scheme: QuantScheme) -> str | None:
        if scheme.is_float:
            return (f"ExecuTorch programs in {scheme.name} hold every float weight; streamed, ExecuTorch quantizes "
                    "while it loads (int4 or int8)")
        return None

    def lower_streamed(self, skel: "Skeleton", scheme: QuantScheme, out_dir: Path,
                       progress: Progress | None = None) -> tuple[LoweredArtifact, LoweringCheck]:
        """Quantize layer by layer while loading (backends/executorch/stream.py), then lower the quantized model
        whole; it stays in memory as the reference of (a)."""
        from edgeslm.backends.executorch.stream import quantized_from_skeleton

        model, native, fallbacks = quantized_from_skeleton(skel, scheme, progress)
        native["streamed"] = True
        artifact = _lowered(model, skel.spec.max_positions, native, fallbacks, out_dir)
        return artifact, _check(model)

    def lowering_check(self, skel: "Skeleton", scheme: QuantScheme, bundle_dir: Path) -> LoweringCheck:
        """Re-quantizes the source layer by layer (deterministic: the weights the bundle was built from)."""
        from edgeslm.backends.executorch.stream import quantized_from_skeleton

        return _check(quantized_from_skeleton(skel, scheme)[0])

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
