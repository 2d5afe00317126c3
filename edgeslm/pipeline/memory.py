"""How much memory an export needs on this host, and whether to stream it.

The in-memory export holds the float model, its reference run and the traced graph at once: measured
15.7 GB peak RSS for a 1.10 B-parameter bf16 checkpoint (TinyLlama-1.1B's shape, int4 ONNX, issue #11) and
3.6 GB for the 135 M default, i.e. about 1.5 GB of libraries plus 13 bytes per parameter. The streaming export
(edgeslm/pipeline/stream_export.py) holds one weight tensor, one decoder layer of the reference, and the
finished bundle while onnxruntime verifies it: see BENCHMARKS.md for its measured peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeslm.errors import UserError

GB = 10**9
LIBRARIES_BYTES = 1.5 * GB  # torch + transformers + onnxruntime + onnxscript imported, no model
IN_MEMORY_BYTES_PER_PARAM = 13.0  # (15.7 GB - 1.5 GB) / 1.10e9 parameters, measured (module docstring)
HEADROOM_BYTES = 1 * GB  # left to the OS and the rest of the host when the budget is "what is available"


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
    if cfg.format != "onnx":
        return f"the {cfg.format} exporter needs the whole model in memory (only onnx streams)"
    if source.kind not in ("hf_folder", "hub") or source.path is None or not any(source.path.glob("*.safetensors")):
        return "only safetensors checkpoints stream (GGUF and pickle sources load whole)"
    if cfg.adapter is not None:
        return "a LoRA adapter is merged into the whole model in memory"
    if cfg.trust_remote_code:
        return "a model with its own code runs through its own module, in memory"
    return None


def choose_mode(cfg, source, config) -> Mode:
    from edgeslm.fit import ModelFacts

    blocker = streaming_blocker(cfg, source)
    if cfg.stream and blocker:
        raise UserError(f"--stream is not possible here: {blocker}", hint="Drop --stream to export in memory.")
    if cfg.stream is not None:
        return Mode(bool(cfg.stream), "--stream" if cfg.stream else "--no-stream")
    need = in_memory_peak(ModelFacts.from_hf_config(config).total_params)
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
