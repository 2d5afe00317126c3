"""`edgeslm profile` on the host: integrity check, a separate worker process, energy, reports."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgeslm.bundle.confine import require_confined_model
from edgeslm.bundle.manifest import read_manifest, require_intact
from edgeslm.errors import InternalError, UnsupportedError, UserError
from edgeslm.profile import energy
from edgeslm.profile.summary import summarize
from edgeslm.targets import get_target



def host_formats() -> dict[str, str]:
    """Formats `edgeslm profile` runs on this host, and the runtime each runs on (the backends declare it)."""
    from edgeslm.backends import BACKENDS

    return {name: backend.host_runtime for name, backend in BACKENDS.items() if backend.host_runtime}


@dataclass(frozen=True)
class ProfileSpec:
    bundle: Path
    runs: int = 3
    warmup: int = 1
    prompt_len: int = 128
    gen_len: int = 64
    threads: int | None = None
    grid_g_per_kwh: float | None = None
    operators: bool = False  # onnxruntime's per-operator profiler (adds a little overhead to every timing)

    def __post_init__(self) -> None:
        for name in ("runs", "prompt_len", "gen_len"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise UserError(f"--warmup must be >= 0, got {self.warmup}")


def check_bundle(bundle: Path) -> dict:
    manifest = read_manifest(bundle)
    require_intact(bundle, manifest)
    require_confined_model(bundle, manifest)  # profiled on this host: its weights must stay inside the bundle
    fmt = manifest["format"]
    formats = host_formats()
    if fmt not in formats:
        raise UnsupportedError(f"no host runtime for {fmt} bundles here",
                               hint=f"Host profiling runs: {', '.join(formats)}.")
    return manifest


def profile_on_host(spec: ProfileSpec) -> dict:
    manifest = check_bundle(spec.bundle)
    limit = manifest["generation"]["max_positions"]
    if spec.prompt_len + spec.gen_len > limit:
        raise UserError(f"prompt {spec.prompt_len} + answer {spec.gen_len} tokens exceed the bundle's "
                        f"{limit} positions", hint="Lower --prompt-len / --gen-len.")
    counters = energy.rapl_domains()
    with tempfile.TemporaryDirectory() as tmp:
        spec_file, out_file = Path(tmp) / "spec.json", Path(tmp) / "raw.json"
        spec_file.write_text(json.dumps({"bundle": str(spec.bundle.resolve()), "runs": spec.runs,
                                         "warmup": spec.warmup, "prompt_len": spec.prompt_len,
                                         "gen_len": spec.gen_len, "threads": spec.threads,
                                         "op_profile_prefix": str(Path(tmp) / "ort") if spec.operators else None}))
        before = energy.read_rapl_uj(counters) if counters else None
        proc = subprocess.run([sys.executable, "-m", "edgeslm.profile.worker", str(spec_file), str(out_file)],
                              capture_output=True, text=True)
        after = energy.read_rapl_uj(counters) if counters else None
        if proc.returncode != 0:
            raise InternalError(f"the profiling worker failed (exit {proc.returncode}): {proc.stderr[-500:]}",
                                hint="Rerun with --debug; the worker's stderr is above.")
        raw = json.loads(out_file.read_text())
    prefill = sum(r["prefill_s"] for r in raw["runs"]) / len(raw["runs"])
    decode = sum(sum(r["decode_latencies_s"]) for r in raw["runs"]) / (len(raw["runs"]) * spec.gen_len)
    if before is not None and after is not None and after > before:
        # The counter also covers load and warm-up: scale by the timed share of the worker's busy time.
        timed = len(raw["runs"]) * (prefill + decode * spec.gen_len)
        busy = timed + raw["load_s"] + spec.warmup * (prefill + decode * spec.gen_len)
        joules = (after - before) / 1e6 * timed / busy
        report = energy.measured(joules, prefill / (prefill + decode * spec.gen_len), raw["prompt_len"],
                                 spec.gen_len, len(raw["runs"]), spec.grid_g_per_kwh)
    else:
        target = get_target(manifest["target"]["name"])
        report = energy.estimate(prefill, decode, raw["prompt_len"], spec.gen_len, target.power.active_w,
                                 f"targets/{target.name}.toml power.active_w = {target.power.active_w} W "
                                 f"({target.power.source}); no readable energy counter on this host",
                                 spec.grid_g_per_kwh)
    size = sum(f["bytes"] for f in manifest["files"])
    return summarize(raw, manifest, size, report)
