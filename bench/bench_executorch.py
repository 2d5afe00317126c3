"""Benchmark the default model (SmolLM2-135M-Instruct) as ExecuTorch programs on CPU: edgeslm's int4 .pte
against optimum-executorch's XNNPACK 8da4w .pte, measured in the same run. See bench/README.md.

    python bench/bench_executorch.py --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import artifacts
import et_artifacts
from bench_onnx import Contender, _has_module, _version, run_contender, top1_agreement

BENCH = Path(__file__).resolve().parent
THEIRS, OURS = "optimum_executorch", "ours_executorch"
LABELS = {THEIRS: "optimum-executorch 8da4w", OURS: "edgeslm int4 ExecuTorch"}
# (key, header, format, higher_is_better); speed and RSS come from the stock runner at each thread count.
METRICS = [
    ("prefill_ms", "prefill ms", "{:.0f}", False),
    ("decode_tok_s", "decode tok/s", "{:.1f}", True),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}", False),
    ("size_mb", "size MB", "{:.1f}", False),
    ("top1_agree", "top-1 agree", "{:.3f}", True),
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


def build(name: str, cache: Path, hf: Path) -> Built:
    if name == THEIRS:
        folder, stats = et_artifacts.optimum_folder(cache, hf)
        return Built(name, folder, folder / "model.pte", hf / "tokenizer.json", stats)
    try:  # the ExecuTorch backend is being written alongside: its absence is a skip reason, not a crash
        from edgeslm.backends import BACKENDS
        BACKENDS.get("executorch")
    except Exception as e:
        raise artifacts.BuildError(f"edgeslm has no executorch backend yet ({type(e).__name__}: {e})") from e
    folder, stats = et_artifacts.ours_folder(cache)
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
    width = max(map(len, LABELS.values())) + 8
    head = "".join(f"{h:>15}" for _, h, _, _ in METRICS)
    for threads, results in rows.items():
        print(f"\n{'threads ' + str(threads):<{width}}{head}")
        for name, r in results.items():
            cells = "".join(f"{fmt.format(r[k]) if r.get(k) is not None else '-':>15}" for k, _, fmt, _ in METRICS)
            print(f"{LABELS[name]:<{width}}{cells}")
        if THEIRS in results and OURS in results:
            a, b = results[OURS], results[THEIRS]
            cells = "".join(f"{a[k] / b[k]:>14.2f}x" if a.get(k) and b.get(k) else f"{'-':>15}"
                            for k, _, _, _ in METRICS)
            print(f"{'ratio ours / theirs':<{width}}{cells}")
    print("\nhigher is better: decode tok/s, top-1 agree; lower for the rest")
    for name, reason in skipped.items():
        print(f"\nskipped {LABELS.get(name, name)}: {reason}")


def main() -> None:
    p = argparse.ArgumentParser(description="SmolLM2-135M ExecuTorch benchmark: ours vs optimum-executorch")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts, each for both")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per metric (best reported)")
    p.add_argument("--prefill-tokens", type=int, default=128)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--cache-dir", type=Path, default=BENCH / "results" / "cache")
    p.add_argument("--rebuild-ours", action="store_true", help="re-export our bundle (it changes often)")
    p.add_argument("--only", nargs="+", choices=[THEIRS, OURS], default=[THEIRS, OURS])
    args = p.parse_args()
    if args.prefill_tokens + args.decode_tokens + 2 > 256:
        p.error("prefill + decode tokens must fit the 256-token context (harness.CTX)")

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if args.rebuild_ours:
        shutil.rmtree(args.cache_dir / "ours_et_int4", ignore_errors=True)
    try:
        hf = artifacts.hf_folder(args.cache_dir)
        inputs = artifacts.make_inputs(hf, args.prefill_tokens, args.decode_tokens)
    except artifacts.BuildError as e:
        sys.exit(f"Error: {e}")
    inputs_path = args.cache_dir / "inputs_et.json"
    inputs_path.write_text(json.dumps(inputs))

    built, skipped = {}, {}
    for name in args.only:
        try:
            built[name] = build(name, args.cache_dir, hf)
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
            r = run_contender(Contender(name, LABELS[name], None, "executorch"), b.folder, inputs_path,
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

    report = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {d: _version(d) for d in ("executorch", "torch", "torchao", "transformers", "edgeslm")},
        "optimum_venv": {"requirements": et_artifacts.REQUIREMENTS.read_text().splitlines()},
        "inputs": {"source": inputs["source"], "prompts": len(inputs["eval_ids"]),
                   "positions": sum(map(len, inputs["eval_ids"]))},
        "stock_runner": {str(t): r for t, r in rows.items()},
        "pybindings": via_pybind,
        "exports": {n: b.export for n, b in built.items()},
        "skipped": skipped,
    }
    threads = "-".join(map(str, args.threads))
    out = args.cache_dir.parent / f"bench_executorch_{threads}t_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\n[bench] wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    if not _has_module("executorch"):
        sys.exit("Error: executorch is not installed in this environment (pip install executorch==1.5.1)")
    main()
