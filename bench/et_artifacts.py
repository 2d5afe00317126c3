"""Build (once, cached) the two .pte files bench_executorch.py compares, timing each export.

optimum-executorch pins transformers==5.0.0rc1, so it runs from its own virtual environment
(bench/.venv-optimum-et, from requirements-optimum-executorch.txt); ours runs from the main environment.
Each export's wall time and peak RSS are measured by /usr/bin/time -v around the exporting process and
kept beside the artifact (export_stats.json), so a cached artifact still reports how long it took.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from artifacts import REPO, BuildError

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-optimum-et"
REQUIREMENTS = BENCH / "requirements-optimum-executorch.txt"
WHEELS = Path("/opt/wheels")  # where this machine keeps the torch CPU wheel; ignored when absent
STATS_FILE = "export_stats.json"


def optimum_venv() -> Path:
    """The venv's python, created on first use; recreated when the requirements file changed."""
    python, stamp = VENV / "bin" / "python", VENV / ".requirements.txt"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] creating {VENV} from {REQUIREMENTS.name} (a few minutes)", file=sys.stderr)
    log = BENCH / "results" / "optimum_venv.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(VENV)], log)
    links = ["--find-links", str(WHEELS)] if WHEELS.is_dir() else []
    _run([str(python), "-m", "pip", "install", *links, "-r", str(REQUIREMENTS)], log, append=True)
    stamp.write_text(wanted)
    return python


def _run(cmd: list[str], log: Path, append: bool = False) -> None:
    with log.open("a" if append else "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise BuildError(f"exit {rc}: {' '.join(cmd)}\n  " + "\n  ".join(tail) + f"\n  full log: {log}")


def timed_export(cmd: list[str], log: Path, env: dict | None = None, ok: tuple[int, ...] = (0,)) -> dict:
    """Run an export command; its wall time, CPU seconds and the peak RSS of its process tree's largest process.
    `ok`: the exit codes that still leave an artifact to measure (edgeslm's 4: written, but failed verify)."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    print(f"[bench] {' '.join(cmd)}  (log: {log})", file=sys.stderr)
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.call(timer + cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    if rc not in ok:
        tail = text.strip().splitlines()[-6:]
        raise BuildError(f"exit {rc}: {' '.join(cmd)}\n  " + "\n  ".join(tail) + f"\n  full log: {log}")
    return {"command": " ".join(cmd), "exit_code": rc, "wall_s": wall, **time_v_figures(text),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S")}


def time_v_figures(text: str) -> dict:
    """Peak RSS and CPU seconds from /usr/bin/time -v's report. CPU seconds move less than wall time when
    other jobs share the machine: compare both."""
    def grab(label: str) -> float | None:
        found = re.search(label + r": ([\d.]+)", text)
        return float(found.group(1)) if found else None
    rss_kb, user, system = (grab(r"Maximum resident set size \(kbytes\)"), grab(r"User time \(seconds\)"),
                            grab(r"System time \(seconds\)"))
    return {"peak_rss_mb": rss_kb * 1024 / 1e6 if rss_kb is not None else None,
            "cpu_s": user + system if user is not None and system is not None else None}


def _cached(out: Path, marker: str, log: Path) -> dict | None:
    if not (out / marker).exists():
        return None
    stats_file = out / STATS_FILE
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    if "cpu_s" not in stats and log.exists():  # written by an older version of this script
        stats.update(time_v_figures(log.read_text(errors="replace")))
        stats_file.write_text(json.dumps(stats, indent=2))
    return stats


def build_once(out: Path, marker: str, make, log: Path) -> tuple[Path, dict]:
    """Build into a temporary folder beside `out`, rename at the end: no half artifact looks complete."""
    cached = _cached(out, marker, log)
    if cached is not None:
        return out, cached
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    stats = make(tmp)
    if not (tmp / marker).exists():
        raise BuildError(f"the export finished but wrote no {marker} in {tmp}")
    (tmp / STATS_FILE).write_text(json.dumps(stats, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out, stats


def optimum_folder(cache: Path, hf: Path) -> tuple[Path, dict]:
    """optimum-executorch's XNNPACK 8da4w .pte (custom SDPA + custom KV cache, 8-bit embedding)."""
    def make(tmp: Path) -> dict:
        python = optimum_venv()
        cli = python.parent / "optimum-cli"
        # No max_seq_len: optimum's default (2048) is also edgeslm's default max_positions.
        return timed_export([str(cli), "export", "executorch", "--model", str(hf), "--task", "text-generation",
                             "--recipe", "xnnpack", "--use_custom_sdpa", "--use_custom_kv_cache",
                             "--qlinear", "8da4w", "--qembedding", "8w", "--output_dir", str(tmp)],
                            cache / "optimum_export.log")
    return build_once(cache / "optimum_et_8da4w", "model.pte", make, cache / "optimum_export.log")


def ours_folder(cache: Path) -> tuple[Path, dict]:
    """edgeslm's int4 ExecuTorch bundle for the default model."""
    def make(tmp: Path) -> dict:
        return timed_export([sys.executable, "-m", "edgeslm", "export", "--target", "android", "--format",
                             "executorch", "--quant", "int4", "-o", str(tmp)], cache / "ours_et_export.log",
                            env=dict(os.environ))
    return build_once(cache / "ours_et_int4", "manifest.json", make, cache / "ours_et_export.log")
