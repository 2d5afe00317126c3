"""Export time and peak memory of the default model: this tree against a baseline revision, in one run.

    python bench/bench_export.py --baseline a58e56c --formats onnx executorch coreml --rounds 2

The baseline revision is checked out once into a git worktree (bench/results/cache/worktree-<rev>) and run from
there with PYTHONPATH pointing at it (the export is pure Python), so both sides use the same installed libraries.
Rounds alternate baseline and current so that machine load falls on both alike. Each export runs in its own
process: wall seconds, CPU seconds (user + system of the process tree) and peak RSS (``ru_maxrss`` of the child,
the largest process of the export) come from ``os.wait4``; the stage seconds come from the bundle's manifest.
Writes bench/results/bench_export_<time>.json and prints a table with min / median / max and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = {"onnx": "android", "executorch": "android", "coreml": "ios"}  # a target that runs the format
sys.path.insert(0, str(ROOT / "bench"))

from driver import write_report  # noqa: E402


def worktree(rev: str, cache: Path) -> Path:
    folder = cache / f"worktree-{rev}"
    if not folder.is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev], check=True,
                       stdout=subprocess.DEVNULL)
    return folder


def export_once(code_root: Path, fmt: str, out: Path, extra: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    cmd = [sys.executable, "-m", "edgeslm", "export", "--target", TARGET[fmt], "--format", fmt,
           "--output", str(out), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=code_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"export ({code_root.name}, {fmt}) exited {code}: {err[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_gb": usage.ru_maxrss * 1024 / 1e9,
            "stages": manifest.get("stage_seconds", {}),
            "bundle_mb": sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 1e6,
            "verify": manifest["verify"]["metrics"] if "verify" in manifest else {}}


def summary(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", required=True, help="git revision to compare against (e.g. a58e56c)")
    p.add_argument("--formats", nargs="+", default=["onnx"], choices=["onnx", "executorch", "coreml"])
    p.add_argument("--rounds", type=int, default=2, help="exports per side and format, alternating")
    p.add_argument("--cache-dir", type=Path, default=ROOT / "bench" / "results" / "cache")
    p.add_argument("--skip-baseline", action="store_true", help="measure the current tree only")
    args = p.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    sides = {"current": ROOT}
    if not args.skip_baseline:
        sides = {"baseline": worktree(args.baseline, args.cache_dir), "current": ROOT}
    results: dict = {fmt: {side: [] for side in sides} for fmt in args.formats}
    with tempfile.TemporaryDirectory(prefix="edgeslm-bench-export-") as tmp:
        for fmt in args.formats:
            for r in range(args.rounds):
                for side, code_root in sides.items():
                    out = Path(tmp) / f"{fmt}-{side}-{r}"
                    run = export_once(code_root, fmt, out, [])
                    results[fmt][side].append(run)
                    print(f"{fmt:10s} {side:8s} round {r + 1}: {run['wall_s']:6.1f} s wall, {run['cpu_s']:6.1f} s CPU, "
                          f"{run['peak_rss_gb']:.2f} GB peak, stages {run['stages']}", flush=True)
                    shutil.rmtree(out)  # the bundle this script just wrote
    print()
    print("| format | side | wall s (min / median / max) | CPU s (median) | peak RSS GB (max) |")
    print("|---|---|---|---|---|")
    table = {}
    for fmt, by_side in results.items():
        for side, runs in by_side.items():
            wall, cpu, rss = summary(runs, "wall_s"), summary(runs, "cpu_s"), summary(runs, "peak_rss_gb")
            table[(fmt, side)] = (wall, cpu, rss)
            print(f"| {fmt} | {side} | {wall['min']:.1f} / {wall['median']:.1f} / {wall['max']:.1f} | "
                  f"{cpu['median']:.1f} | {rss['max']:.2f} |")
        if "baseline" in by_side:
            (bw, bc, br), (cw, cc, cr) = table[(fmt, "baseline")], table[(fmt, "current")]
            print(f"| {fmt} | current / baseline | {cw['median'] / bw['median']:.2f}x | "
                  f"{cc['median'] / bc['median']:.2f}x | {cr['max'] / br['max']:.2f}x |")
    write_report(args.cache_dir, "bench_export", ("torch", "onnx", "onnxruntime", "executorch",
                                                                "coremltools", "transformers", "gguf"),
                        {"baseline": args.baseline, "command": " ".join(sys.argv), "results": results})


if __name__ == "__main__":
    main()
