"""Benchmark the default model (SmolLM2-135M-Instruct) as ExecuTorch programs on CPU: edgeslm's int4 .pte
against optimum-executorch's XNNPACK 8da4w .pte, measured in the same run. See bench/README.md.

    python bench/bench_executorch.py --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import artifacts
import et_artifacts
from bench_onnx import Contender, run_contender
from driver import (BENCH, SPEED_METRICS, add_common_args, has_module, prepare_inputs, print_pair, print_ratio,
                    top1_agreement, write_report)

THEIRS, OURS, BEFORE = "optimum_executorch", "ours_executorch", "before_executorch"
LABELS = {THEIRS: "optimum-executorch 8da4w", OURS: "edgeslm int4 ExecuTorch",
          BEFORE: "edgeslm int4 ExecuTorch, before"}
# Speed and RSS come from the stock runner at each thread count; export cost from each build's own stats.
METRICS = SPEED_METRICS + [
    ("export_s", "export s", "{:.0f}", False),
    ("export_cpu_s", "export CPU s", "{:.0f}", False),
    ("export_rss_mb", "export RSS MB", "{:.0f}", False),
]


@dataclass(frozen=True)
class Built:
    name: str
    folder: Path
    pte: Path
    tokenizer: Path
    export: dict  # wall_s, peak_rss_mb, command (from export_stats.json)


def build(name: str, cache: Path, hf: Path, before: Path | None = None) -> Built:
    if name == BEFORE:  # an edgeslm bundle exported earlier (another revision): measured, not rebuilt
        return _edgeslm_bundle(name, before, {})
    if name == THEIRS:
        folder, stats = et_artifacts.optimum_folder(cache, hf)
        return Built(name, folder, folder / "model.pte", hf / "tokenizer.json", stats)
    try:  # the ExecuTorch backend is being written alongside: its absence is a skip reason, not a crash
        from edgeslm.backends import BACKENDS
        BACKENDS.get("executorch")
    except Exception as e:
        raise artifacts.BuildError(f"edgeslm has no executorch backend yet ({type(e).__name__}: {e})") from e
    folder, stats = et_artifacts.ours_folder(cache)
    return _edgeslm_bundle(name, folder, stats)


def _edgeslm_bundle(name: str, folder: Path, stats: dict) -> Built:
    if not (folder / "manifest.json").is_file():
        raise artifacts.BuildError(f"{folder} is not an edgeslm bundle (no manifest.json)")
    manifest = json.loads((folder / "manifest.json").read_text())
    ptes = [f["name"] for f in manifest["files"] if f["name"].endswith(".pte")]
    if len(ptes) != 1:
        raise artifacts.BuildError(f"expected one .pte in {folder}, the manifest lists {ptes}")
    return Built(name, folder, folder / ptes[0], folder / "tokenizer.json", stats)


def run_llm_runner(b: Built, inputs: Path, threads: int, repeats: int, out: Path) -> dict:
    cmd = [sys.executable, str(BENCH / "et_llm_runner.py"), "--pte", str(b.pte), "--tokenizer", str(b.tokenizer),
           "--inputs", str(inputs), "--threads", str(threads), "--repeats", str(repeats), "--out", str(out)]
    print(f"[bench] {LABELS[b.name]} stock runner: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(threads)), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n  ".join(proc.stderr.strip().splitlines()[-6:])
        raise artifacts.BuildError(f"the stock LLM runner exited {proc.returncode}:\n  {tail}")
    return json.loads(out.read_text())


def print_table(rows: dict[int, dict[str, dict]], skipped: dict) -> None:
    for threads, results in rows.items():
        print_pair(f"threads {threads}", results, LABELS, METRICS, OURS, THEIRS)
        if OURS in results and BEFORE in results:
            print_ratio("ratio ours / before", results[OURS], results[BEFORE], METRICS,
                        max(map(len, LABELS.values())) + 8)
    print("\nhigher is better: decode tok/s, top-1 agree; lower for the rest")
    for name, reason in skipped.items():
        print(f"\nskipped {LABELS.get(name, name)}: {reason}")


def main() -> None:
    p = argparse.ArgumentParser(description="SmolLM2-135M ExecuTorch benchmark: ours vs optimum-executorch")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts, each for both")
    add_common_args(p, "timed repeats per metric (best reported)")
    p.add_argument("--only", nargs="+", choices=[THEIRS, OURS], default=[THEIRS, OURS])
    p.add_argument("--before", type=Path, help="an edgeslm ExecuTorch bundle exported by an earlier revision: "
                                               "measured in the same run as a third contender (before / after)")
    args = p.parse_args()
    if args.before:
        args.only = [*args.only, BEFORE]
    hf, inputs, inputs_path = prepare_inputs(p, args, "ours_et_int4", "inputs_et.json", extra_tokens=2)

    built, skipped = {}, {}
    for name in args.only:
        try:
            built[name] = build(name, args.cache_dir, hf, args.before)
        except artifacts.BuildError as e:
            skipped[name] = str(e)
            print(f"[bench] skipping {LABELS[name]}: {e}", file=sys.stderr)
    if not built:
        sys.exit("Error: neither .pte could be built:\n" + "\n".join(f"  {n}: {r}" for n, r in skipped.items()))

    # Teacher-forced top-1 (and the pybindings' own speed) once, at the first thread count: numerics do
    # not depend on threads. Each contender runs in its own process (bench/harness.py).
    t0 = args.threads[0]
    # One repeat: the speed that the table reports is the stock runner's; the harness is here for top-1.
    harness_args = argparse.Namespace(threads=t0, repeats=1)
    ref = run_contender(Contender("reference", "float reference (torch fp32)", None, "torch"), hf, inputs_path,
                        argparse.Namespace(threads=t0, repeats=1), args.cache_dir / "reference_et.json")
    via_pybind = {}
    for name, b in list(built.items()):
        try:
            module = OURS if name == BEFORE else name  # an earlier edgeslm bundle runs through the same harness
            r = run_contender(Contender(module, LABELS[name], None, "executorch"), b.folder, inputs_path,
                              harness_args, args.cache_dir / f"{name}.json")
        except artifacts.BuildError as e:
            skipped[name] = f"harness (pybindings): {e}"
            del built[name]
            continue
        r["top1_agree"] = top1_agreement(r.pop("eval_argmax"), ref["eval_argmax"])
        via_pybind[name] = r

    rows: dict[int, dict[str, dict]] = {}
    for threads in args.threads:
        rows[threads] = {}
        for name, b in built.items():
            try:
                r = run_llm_runner(b, inputs_path, threads, args.repeats,
                                   args.cache_dir / f"{name}_runner_{threads}t.json")
            except artifacts.BuildError as e:
                skipped[f"{name} ({threads} threads, stock runner)"] = str(e)
                continue
            pb = via_pybind[name]
            rows[threads][name] = {**r, "size_mb": pb["size_mb"], "top1_agree": pb["top1_agree"],
                                   "export_s": b.export.get("wall_s"),
                                   "export_cpu_s": b.export.get("cpu_s"), "export_rss_mb": b.export.get("peak_rss_mb")}
    print_table(rows, skipped)

    write_report(args.cache_dir, f"bench_executorch_{'-'.join(map(str, args.threads))}t",
                 ("executorch", "torch", "torchao", "transformers", "edgeslm"),
                 {"optimum_venv": {"requirements": et_artifacts.REQUIREMENTS.read_text().splitlines()},
                  "inputs": {"source": inputs["source"], "prompts": len(inputs["eval_ids"]),
                             "positions": sum(map(len, inputs["eval_ids"]))},
                  "stock_runner": {str(t): r for t, r in rows.items()}, "pybindings": via_pybind,
                  "exports": {n: b.export for n, b in built.items()}, "skipped": skipped})

if __name__ == "__main__":
    if not has_module("executorch"):
        sys.exit("Error: executorch is not installed in this environment (pip install executorch==1.5.1)")
    main()
