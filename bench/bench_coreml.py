"""Benchmark the default model (SmolLM2-135M-Instruct) as Core ML int4 packages: edgeslm's export against
coremltools' own int4 quantization of the same program, measured in the same run. See bench/README.md.

    python bench/bench_coreml.py

Both packages come from `edgeslm export --target ios` (the same traced wrapper, the same `ct.convert`); the
baseline adds `--no-gguf-carry`, so coremltools.optimize re-quantizes every weight from the dequantized GGUF
(linear_symmetric int4, blocks of 32: what a direct coremltools int4 conversion stores). Core ML cannot predict
on Linux: accuracy is edgeslm's stored-weights check (the package's weights read back from disk, dequantized,
run in PyTorch against the fp32 reference over the verify prompts). Speed needs a Mac and is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import artifacts
from driver import BENCH, print_pair, write_report
from et_artifacts import build_once, timed_export

OURS, THEIRS = "ours_coreml", "coremltools_int4"
LABELS = {THEIRS: "coremltools int4 (no carry)", OURS: "edgeslm int4 Core ML"}
FLAGS = {OURS: [], THEIRS: ["--no-gguf-carry", "--keep-unverified"]}
# (key, header, format, higher_is_better)
METRICS = [
    ("size_mib", "package MiB", "{:.1f}", False),
    ("sqnr_db", "SQNR dB", "{:.1f}", True),
    ("prompt_top1", "prompt top-1", "{:.3f}", True),
    ("decode_top1", "decode top-1", "{:.3f}", True),
    ("export_s", "export s", "{:.0f}", False),
    ("export_cpu_s", "export CPU s", "{:.0f}", False),
    ("export_rss_mb", "export RSS MB", "{:.0f}", False),
    ("verified", "verified", "{}", True),
]


def build(name: str, cache: Path) -> tuple[Path, dict]:
    def make(tmp: Path) -> dict:
        # exit 4: written but failed verification (kept by --keep-unverified): still a package to measure
        return timed_export([sys.executable, "-m", "edgeslm", "export", "--target", "ios", "--quant", "int4",
                             *FLAGS[name], "-o", str(tmp)], cache / f"{name}_export.log", env=dict(os.environ),
                            ok=(0, 4))
    return build_once(cache / name, "manifest.json", make, cache / f"{name}_export.log")


def measure(folder: Path, stats: dict) -> dict:
    m = json.loads((folder / "manifest.json").read_text())
    checks = {c["name"]: c for c in m["verify"]["checks_run"]}
    stored = checks["stored_weights"]["metrics"]
    return {"size_mib": checks["package"]["bytes"] / 2**20, "sqnr_db": stored["sqnr_db"],
            "prompt_top1": stored["prompt_top1"], "decode_top1": stored["decode_top1"],
            "verified": m["verified"], "fused_attention": m["kernels"]["fused_attention"],
            "weights_by_storage": m["kernels"]["weights_by_storage"],
            "stage_seconds": m.get("stage_seconds"), "coreml_seconds": m["quant"]["native"].get("seconds"),
            "export_s": stats.get("wall_s"), "export_cpu_s": stats.get("cpu_s"),
            "export_rss_mb": stats.get("peak_rss_mb")}


def print_table(results: dict, skipped: dict) -> None:
    print_pair("contender", results, LABELS, METRICS, OURS, THEIRS)
    print("\nhigher is better: SQNR, top-1; lower for the rest. Verify gate for int4: SQNR >= 9 dB, top-1 >= 0.6")
    for name, reason in skipped.items():
        print(f"\nskipped {LABELS[name]}: {reason}")


def main() -> None:
    p = argparse.ArgumentParser(description="SmolLM2-135M Core ML int4: ours vs coremltools' own quantization")
    p.add_argument("--cache-dir", type=Path, default=BENCH / "results" / "cache")
    p.add_argument("--rebuild-ours", action="store_true", help="re-export our package (it changes often)")
    p.add_argument("--only", nargs="+", choices=[OURS, THEIRS], default=[THEIRS, OURS])
    args = p.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if args.rebuild_ours:
        shutil.rmtree(args.cache_dir / OURS, ignore_errors=True)

    results, skipped = {}, {}
    for name in args.only:
        try:
            folder, stats = build(name, args.cache_dir)
            results[name] = measure(folder, stats)
        except artifacts.BuildError as e:
            skipped[name] = str(e)
            print(f"[bench] skipping {LABELS[name]}: {e}", file=sys.stderr)
    if not results:
        sys.exit("Error: no package could be built:\n" + "\n".join(f"  {n}: {r}" for n, r in skipped.items()))
    print_table(results, skipped)
    write_report(args.cache_dir, "bench_coreml", ("coremltools", "torch", "transformers", "edgeslm"),
                 {"results": results, "skipped": skipped})


if __name__ == "__main__":
    main()
