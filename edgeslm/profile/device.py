"""What `profile --target android|ios` share: the run spec, the bundle check, running the device tool, and
turning the pulled metrics JSON (metrics_schema) into the same profile dict as a host run."""

from __future__ import annotations

import importlib
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgeslm.bundle.manifest import read_manifest, require_intact
from edgeslm.errors import UnsupportedError, UserError
from edgeslm.profile import energy
from edgeslm.profile.metrics_schema import to_raw
from edgeslm.profile.summary import summarize
from edgeslm.targets import get_target


# How `profile` reaches a phone, by the target's `runner` (targets/*.toml): the module and function that run it.
PROFILERS = {"adb": ("edgeslm.profile.android", "profile_on_android"),
             "xcrun": ("edgeslm.profile.ios", "profile_on_ios")}


def device_profiler(target_name: str) -> Callable:
    """The function `(DeviceSpec, log) -> profile` for the phone target `target_name`, picked by its runner."""
    target = get_target(target_name)
    if target.runner not in PROFILERS:
        raise UserError(f"target {target_name} is reached by runner {target.runner!r}, not a phone tool",
                        hint=f"Device profiling runs over {', '.join(PROFILERS)}; profile this target's bundles "
                             "on the host (no --target).")
    module, function = PROFILERS[target.runner]
    return getattr(importlib.import_module(module), function)


@dataclass(frozen=True)
class DeviceSpec:
    bundle: Path
    target: str  # "android" | "ios"
    runs: int = 3
    warmup: int = 1
    prompt_len: int = 128
    gen_len: int = 64
    threads: int = 4  # a phone's big cores; the runner pins nothing, it is passed through
    serial: str | None = None  # adb serial or devicectl identifier/UDID/name; None = the only device attached
    runner: Path | None = None  # android: a runner executable pushed and run (until the demo app has one)
    app_bundle_id: str = "org.edgeslm.demo"  # ios: the installed ios_demo app that has the benchmark mode
    ios_app: Path | None = None  # ios: a built ios_demo .app to install first
    idle_s: float = 5.0  # idle baseline sampled before the runs (battery energy)
    grid_g_per_kwh: float | None = None
    power_csv: Path | None = None  # an external monitor's capture, read after the runs (power_import)
    power_t0: float | None = None  # unix time of the CSV's t = 0 when its times are relative
    perfetto: Path | None = None  # a Perfetto trace (or its power-rail export) covering the runs

    def __post_init__(self) -> None:
        for name in ("runs", "prompt_len", "gen_len", "threads"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0 or self.idle_s < 0:
            raise UserError("--warmup and --idle-s must be >= 0")
        if self.power_csv is not None and self.perfetto is not None:
            raise UserError("--power-csv and --perfetto both given", hint="Pass one measurement source.")


def check_bundle(bundle: Path, target_name: str) -> dict:
    """The bundle is intact, its format is one the target runs, and the lengths fit its positions."""
    manifest = read_manifest(bundle)
    require_intact(bundle, manifest)
    target = get_target(target_name)
    if manifest["format"] not in target.formats:
        raise UnsupportedError(f"this {manifest['format']} bundle cannot run on target {target_name} "
                               f"(it runs {', '.join(target.formats)})",
                               hint=f"Export for it: edgeslm export --target {target_name} --format "
                                    f"{target.default_format} -o out")
    return manifest


def check_lengths(spec: DeviceSpec, manifest: dict) -> None:
    limit = manifest["generation"]["max_positions"]
    if spec.prompt_len + spec.gen_len > limit:
        raise UserError(f"prompt {spec.prompt_len} + answer {spec.gen_len} tokens exceed the bundle's "
                        f"{limit} positions", hint="Lower --prompt-len / --gen-len.")


def run_tool(argv: list[str], what: str, hint: str, timeout: float | None = 120) -> subprocess.CompletedProcess:
    """Run adb / xcrun; a non-zero exit is a UserError with the command and its stderr tail."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError(f"{what} did not finish within {timeout:.0f} s: {shlex.join(argv)}", hint=hint) from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise UserError(f"{what} failed (exit {proc.returncode}): {shlex.join(argv)}\n{tail}", hint=hint,
                        details={"argv": argv, "stderr_tail": tail})
    return proc


def check_settings(metrics: dict, spec: DeviceSpec) -> None:
    """The runner ran what was asked (a runner that ignores --gen-len would otherwise be reported as asked)."""
    s = metrics["settings"]
    asked = {"prompt_len": spec.prompt_len, "gen_len": spec.gen_len, "runs": spec.runs, "warmup": spec.warmup,
             "threads": spec.threads}
    wrong = [f"{k} {s[k]} (asked {v})" for k, v in asked.items() if s[k] != v]
    if wrong:
        raise UserError(f"the on-device runner ran other settings than asked: {', '.join(wrong)}",
                        hint="The runner must honour every documented argument (edgeslm/profile/android.py).")


def build_profile(metrics: dict, manifest: dict, report: energy.EnergyReport) -> dict:
    raw = to_raw(metrics)
    size = sum(f["bytes"] for f in manifest["files"])
    profile = summarize(raw, manifest, size, report)
    profile["device"] = raw["device"]
    return profile


def estimated_energy(metrics: dict, target_name: str, why: str, grid: float | None) -> energy.EnergyReport:
    raw = to_raw(metrics)
    runs = raw["runs"]
    prefill = sum(r["prefill_s"] for r in runs) / len(runs)
    decode = sum(sum(r["decode_latencies_s"]) for r in runs) / (len(runs) * raw["gen_len"])
    target = get_target(target_name)
    return energy.estimate(prefill, decode, raw["prompt_len"], raw["gen_len"], target.power.active_w,
                           f"targets/{target.name}.toml power.active_w = {target.power.active_w} W "
                           f"({target.power.source}); {why}", grid)
