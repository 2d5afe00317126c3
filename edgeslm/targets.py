"""Deployment targets: plain data in ``targets/*.toml``, one file per target, shipped as ``edgeslm.target_files``.

Adding a target is one new TOML file: the registry is every ``*.toml`` in that package, keyed by the file
name, which must equal the ``name`` inside it. Unknown keys are errors, so a typo in a RAM figure can never
silently fall back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from edgeslm.errors import UserError
from edgeslm.quant import QUANT_SCHEMES
from edgeslm.registry import Registry

CPU_ARCHS = ("arm64", "x86_64")
RUNNERS = ("host", "adb", "xcrun")  # how `profile` reaches the device: in-process, over adb, over xcrun devicectl
# The backends registry (edgeslm/backends) is the authority on formats; this list only catches typos in a
# target file without importing every backend (and its SDK) to read a TOML file.
KNOWN_FORMATS = ("onnx", "executorch", "coreml")


class _Invalid(Exception):
    """A value in a target file is wrong; the loader adds the file name."""


@dataclass(frozen=True)
class PowerFigures:
    active_w: float  # whole-SoC (or VM share) power while decoding
    idle_w: float  # with the model loaded and nothing running
    source: str  # where the figures come from: a citation, or "estimate ..." saying from what

    def __post_init__(self) -> None:
        if not 0 < self.idle_w < self.active_w:
            raise _Invalid(f"power: need 0 < idle_w < active_w, got idle_w={self.idle_w}, active_w={self.active_w}")
        if not self.source.strip():
            raise _Invalid("power.source must cite where the figures come from")


@dataclass(frozen=True)
class ComputeFigures:
    """Peak FP32 FLOP/s of the CPU cores a prefill runs on: `plan` predicts time to first token from it."""

    peak_gflops: float
    source: str  # how it was derived: cores x clock x FLOP/cycle from the cores' documented FMA pipes

    def __post_init__(self) -> None:
        if self.peak_gflops <= 0:
            raise _Invalid(f"compute.peak_gflops must be positive, got {self.peak_gflops}")
        if not self.source.strip():
            raise _Invalid("compute.source must say how the figure was derived")


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    cpu_arch: str
    formats: tuple[str, ...]  # allowed formats, preferred first
    default_format: str
    default_format_reason: str
    default_quant: str
    ram_budget_mb: int  # what one app may use on the reference device
    os_kill_headroom_mb: int  # kept free below the budget so the OS does not kill the app
    mem_bandwidth_gbs: float  # peak DRAM bandwidth: decode is bandwidth bound, so this caps tokens/s
    power: PowerFigures
    runner: str
    reference_device: str
    compute: ComputeFigures | None = None  # None: `plan` gives no TTFT (never a silent default)

    def __post_init__(self) -> None:
        if self.cpu_arch not in CPU_ARCHS:
            raise _Invalid(f"cpu_arch {self.cpu_arch!r} is not one of {', '.join(CPU_ARCHS)}")
        if self.runner not in RUNNERS:
            raise _Invalid(f"runner {self.runner!r} is not one of {', '.join(RUNNERS)}")
        if not self.formats:
            raise _Invalid("formats is empty")
        for fmt in self.formats:
            if fmt not in KNOWN_FORMATS:
                raise _Invalid(f"format {fmt!r} is not one of {', '.join(KNOWN_FORMATS)}")
        if len(set(self.formats)) != len(self.formats):
            raise _Invalid(f"formats lists a format twice: {list(self.formats)}")
        if self.default_format not in self.formats:
            raise _Invalid(f"default_format {self.default_format!r} is not in formats {list(self.formats)}")
        if self.default_quant not in QUANT_SCHEMES:
            raise _Invalid(f"default_quant {self.default_quant!r} is not one of {', '.join(QUANT_SCHEMES.names())}")
        if self.ram_budget_mb <= 0 or self.os_kill_headroom_mb < 0:
            raise _Invalid("ram_budget_mb must be positive and os_kill_headroom_mb not negative")
        if self.os_kill_headroom_mb >= self.ram_budget_mb:
            raise _Invalid(f"os_kill_headroom_mb ({self.os_kill_headroom_mb}) leaves nothing of "
                           f"ram_budget_mb ({self.ram_budget_mb})")
        if self.mem_bandwidth_gbs <= 0:
            raise _Invalid(f"mem_bandwidth_gbs must be positive, got {self.mem_bandwidth_gbs}")
        for name in ("description", "reference_device", "default_format_reason"):
            if not getattr(self, name).strip():
                raise _Invalid(f"{name} is empty")

    @property
    def available_mb(self) -> int:
        """RAM the model may actually use: the budget less the OS-kill headroom."""
        return self.ram_budget_mb - self.os_kill_headroom_mb


def _check_keys(table: dict[str, Any], cls: type, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise _Invalid(f"unknown key {where}{unknown[0]!r} (known: {', '.join(sorted(known))})")
    missing = sorted(f.name for f in fields(cls) if f.default is MISSING and f.name not in table)
    if missing:
        raise _Invalid(f"missing key {where}{missing[0]!r}")


def _typed(value: Any, kind: type, key: str) -> Any:
    # TOML distinguishes int and float; accept an int where a float is meant (ram 51 vs 51.0), nothing else.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise _Invalid(f"{key} must be an integer, got {value!r}")
    if not isinstance(value, kind):
        raise _Invalid(f"{key} must be {kind.__name__}, got {value!r}")
    return value


_TYPES: dict[str, type] = {
    "name": str, "description": str, "cpu_arch": str, "default_format": str, "default_format_reason": str,
    "default_quant": str, "ram_budget_mb": int, "os_kill_headroom_mb": int, "mem_bandwidth_gbs": float,
    "runner": str, "reference_device": str,
}


def _target_from_data(data: dict[str, Any]) -> Target:
    _check_keys(data, Target, "")
    power = data["power"]
    if not isinstance(power, dict):
        raise _Invalid("power must be a [power] table")
    _check_keys(power, PowerFigures, "power.")
    figures = PowerFigures(active_w=_typed(power["active_w"], float, "power.active_w"),
                           idle_w=_typed(power["idle_w"], float, "power.idle_w"),
                           source=_typed(power["source"], str, "power.source"))
    formats = data["formats"]
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise _Invalid(f"formats must be a list of names, got {formats!r}")
    values = {key: _typed(data[key], kind, key) for key, kind in _TYPES.items()}
    compute = None
    if "compute" in data:
        table = data["compute"]
        if not isinstance(table, dict):
            raise _Invalid("compute must be a [compute] table")
        _check_keys(table, ComputeFigures, "compute.")
        compute = ComputeFigures(peak_gflops=_typed(table["peak_gflops"], float, "compute.peak_gflops"),
                                 source=_typed(table["source"], str, "compute.source"))
    return Target(formats=tuple(formats), power=figures, compute=compute, **values)


def load_target(path: Path | Traversable) -> Target:
    """Parse one target file; its stem must be the target's name."""
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"cannot read target file {source}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"target file {source} is not valid TOML: {err}") from None
    try:
        target = _target_from_data(data)
    except _Invalid as err:
        raise UserError(f"target file {source}: {err}",
                        hint="Compare with targets/linux.toml; every key is described in edgeslm/targets.py.") from None
    stem = path.name.rsplit(".", 1)[0]
    if target.name != stem:
        raise UserError(f"target file {source} names itself {target.name!r}",
                        hint=f'The name inside must match the file name: name = "{stem}".')
    return target


def load_targets(folder: Path | Traversable | None = None) -> Registry[Target]:
    """Every ``*.toml`` in ``folder`` (default: the targets shipped with edgeslm), keyed by name."""
    folder = folder if folder is not None else resources.files("edgeslm.target_files")
    registry: Registry[Target] = Registry("target", "edgeslm list targets")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml") and entry.is_file():
            target = load_target(entry)
            registry.add(target.name, target)  # file names are unique, so names are too
    return registry


TARGETS: Registry[Target] = load_targets()


def get_target(name: str) -> Target:
    return TARGETS.get(name)
