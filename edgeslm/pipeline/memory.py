"""How much memory an export needs on this host, and whether to stream it.

The in-memory export holds the float model, its reference run and the traced graph at once: measured
15.7 GB peak RSS for a 1.10 B-parameter bf16 checkpoint (TinyLlama-1.1B's shape, int4 ONNX, issue #11) and
3.6 GB for the 135 M default, i.e. about 1.5 GB of libraries plus 13 bytes per parameter. The streaming export
(edgeslm/pipeline/stream_export.py) never holds the float model: ONNX one weight tensor and one decoder layer of the
reference at a time, ExecuTorch and Core ML the quantized model (built layer by layer) while they lower. Measured
peaks: STREAMING below and BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeslm.errors import UserError

GB = 10**9
LIBRARIES_BYTES = 1.5 * GB  # torch + transformers + onnxruntime + onnxscript imported, no model
IN_MEMORY_BYTES_PER_PARAM = 13.0  # (15.7 GB - 1.5 GB) / 1.10e9 parameters, measured (module docstring)
HEADROOM_BYTES = 1 * GB  # left to the OS and the rest of the host when the budget is "what is available"
# ExecuTorch and Core ML in memory: their measured peaks on the 135 M default model (3.7 GB, 4.2 GB) are close to
# the ONNX in-memory path's, and their times per parameter are larger (546 s and 234 s for 1.35e8 parameters).
IN_MEMORY_SECONDS_PER_PARAM = 578 / 1.10e9  # the in-memory ONNX path's wall (issue #11: 578 s for 1.10e9)
FORMAT_SECONDS_PER_PARAM = {"onnx": IN_MEMORY_SECONDS_PER_PARAM, "executorch": 546 / 1.35e8,
                            "coreml": 234 / 1.35e8}


@dataclass(frozen=True)
class StreamCost:
    """A streaming export's measured cost (bench/bench_big_models.py, BENCHMARKS.md "Big models"), int4: a peak
    that grows with the parameter count, and CPU seconds per parameter on the 2-core VM the benchmarks ran on
    (other hosts scale with their cores and disks; the wall of a shared machine is not a rate)."""

    base_bytes: float
    bytes_per_param: float
    seconds_per_param: float
    base_seconds: float = 0.0

    def peak(self, params: int) -> int:
        return int(self.base_bytes + self.bytes_per_param * params)

    def seconds(self, params: int) -> float:
        return self.base_seconds + self.seconds_per_param * params


STREAMING = {
    # ONNX: one weight tensor, one decoder layer of the reference, onnxruntime's session over the finished
    # bundle while it verifies. Peaks 2.58 GB for 1.10e9 parameters (TinyLlama-1.1B's shape), 6.92 GB for
    # 7.24e9 (BioMistral-7B's): the line through both. 1158 CPU s for the 7.24e9 shape.
    "onnx": StreamCost(1.80 * GB, 0.707, 1158 / 7.24e9),
    # ExecuTorch: the quantized model (torchao holds int4 as int8, ~1.1 bytes per parameter) while XNNPACK packs
    # its own copy and to_executorch serializes a third; the quantized model stays as verify's reference. Peaks
    # 5.89 GB for 1.17e9 parameters (TinyLlama-1.1B's shape, untied head), 14.78 GB for 3.82e9 (MedMobile's phi3):
    # the line through both. CPU 776 s and 1463 s: XNNPACK's graph passes cost per node, not per weight.
    "executorch": StreamCost(1.97 * GB, 3.354, 2.59e-7, base_seconds=473),
    # Core ML: the quantized model (int data as int8, ~1 byte per parameter, the tables in float32) while
    # coremltools converts it (its copies of the int data, the program it serializes). MedMobile's 3.82e9 phi3
    # peaked at 15.65 GB (3.58 bytes per parameter over ExecuTorch's 1.97 GB of libraries); MedGemma-4B's 4.55e9
    # gemma3 (262k-row tables) was killed at 24.0 GB in conversion: the slope is set by that lower bound, so the
    # forecast is conservative for small-vocabulary models (20.5 GB predicted for the phi3 that took 15.65).
    # CPU 3530 s at 3.82e9, most of it verify decoding through the int data.
    "coreml": StreamCost(1.97 * GB, 4.84, 3530 / 3.82e9),
}


def parse_memory(text: str) -> int:
    """'16GB', '12.5G', '900MB', '16GiB' -> bytes (decimal units for GB/MB, binary for GiB/MiB)."""
    units = {"gib": 2**30, "mib": 2**20, "gb": GB, "g": GB, "mb": 10**6, "m": 10**6, "tb": 10**12, "t": 10**12}
    raw = text.strip().lower().replace(" ", "")
    for unit in sorted(units, key=len, reverse=True):
        if raw.endswith(unit):
            number = raw[: -len(unit)]
            break
    else:
        unit, number = "gb", raw
    try:
        value = float(number)
    except ValueError:
        raise UserError(f"--max-memory {text!r} is not a size", hint="Write it like 16GB, 12.5GB or 900MB.") from None
    if value <= 0:
        raise UserError(f"--max-memory must be positive, got {text!r}")
    return int(value * units[unit])


def host_budget() -> int:
    """What this host can give an export now: available memory minus headroom."""
    import psutil

    return max(int(psutil.virtual_memory().available - HEADROOM_BYTES), 0)


def in_memory_peak(params: int) -> int:
    return int(LIBRARIES_BYTES + IN_MEMORY_BYTES_PER_PARAM * params)


@dataclass(frozen=True)
class Mode:
    streaming: bool
    reason: str


def streaming_blocker(cfg, source) -> str | None:
    """Why this export cannot stream, or None."""
    from edgeslm.backends import BACKENDS

    from edgeslm.quant import get_scheme

    blocker = BACKENDS.get(cfg.format).stream_blocker(get_scheme(cfg.quant))
    if blocker:
        return blocker
    if source.kind not in ("hf_folder", "hub") or source.path is None or not any(source.path.glob("*.safetensors")):
        return "only safetensors checkpoints stream (GGUF and pickle sources load whole)"
    if cfg.adapter is not None:
        return "a LoRA adapter is merged into the whole model in memory"
    if cfg.trust_remote_code:
        return "a model with its own code runs through its own module, in memory"
    if getattr(cfg, "clinical", False):
        return "--clinical scores the float model in memory"
    return None


def choose_mode(cfg, source, config) -> Mode:
    from edgeslm.fit import ModelFacts

    blocker = streaming_blocker(cfg, source)
    if cfg.stream and blocker:
        raise UserError(f"--stream is not possible here: {blocker}", hint="Drop --stream to export in memory.")
    if cfg.stream is not None:
        return Mode(bool(cfg.stream), "--stream" if cfg.stream else "--no-stream")
    need = in_memory_peak(ModelFacts.from_hf_config(config).exported_params)
    budget = cfg.max_memory if cfg.max_memory is not None else host_budget()
    where = "--max-memory" if cfg.max_memory is not None else "available on this host"
    if need <= budget:
        return Mode(False, f"~{need / GB:.1f} GB needed, {budget / GB:.1f} GB {where}")
    if blocker:
        raise UserError(f"exporting this model in memory needs ~{need / GB:.1f} GB, {budget / GB:.1f} GB {where}, "
                        f"and it cannot stream: {blocker}",
                        hint="Use a safetensors checkpoint with --format onnx (streams layer by layer), "
                             "or a host with more memory.")
    return Mode(True, f"in memory it would need ~{need / GB:.1f} GB, {budget / GB:.1f} GB {where}")


@dataclass(frozen=True)
class HostForecast:
    """Can this host export the model in this format, how, with what peak, in about how long."""

    format: str
    mode: str  # "in memory" | "streaming" | "does not fit"
    peak_gb: float
    budget_gb: float
    minutes: float

    def line(self) -> str:
        if self.mode == "does not fit":
            how = ("even streamed" if self.format in STREAMING else
                   f"in memory; {self.format} does not stream, {' and '.join(STREAMING)} do")
            return (f"{self.format}: does not fit this host (needs ~{self.peak_gb:.1f} GB {how}, "
                    f"{self.budget_gb:.1f} GB available)")
        return (f"{self.format}: exports {self.mode}, peak ~{self.peak_gb:.1f} GB of {self.budget_gb:.1f} GB "
                f"available, ~{self.minutes:.0f} min on a 2-core host")


def host_forecast(params: int, fmt: str, budget: int | None = None) -> HostForecast:
    """The same decision `export` makes (choose_mode), from the parameter count alone (`ModelFacts.exported_params`:
    a tied head counted twice, as the export holds it)."""
    budget = host_budget() if budget is None else budget
    need = in_memory_peak(params)
    if need <= budget:
        return HostForecast(fmt, "in memory", need / GB, budget / GB,
                            FORMAT_SECONDS_PER_PARAM.get(fmt, IN_MEMORY_SECONDS_PER_PARAM) * params / 60)
    cost = STREAMING.get(fmt)
    if cost is not None and cost.peak(params) <= budget:
        return HostForecast(fmt, "streaming", cost.peak(params) / GB, budget / GB,
                            cost.seconds(params) / 60)
    return HostForecast(fmt, "does not fit", (cost.peak(params) if cost else need) / GB, budget / GB, 0.0)


def return_freed_memory() -> None:
    """Collect what only cycles still hold (torch modules whose forward was patched hold themselves), then ask glibc
    to hand the freed heap back to the OS: a big model's layers (tens of MB each, many below glibc's mmap
    threshold) otherwise stay in the process's heap after they are freed, and the next stage's peak sits on top."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the collection alone
        pass

