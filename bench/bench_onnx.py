"""Benchmark the default model (SmolLM2-135M-Instruct) on CPU: edgeslm's int4 ONNX bundle against the
ONNX Runtime GenAI builder and llama.cpp, measured in the same run. See bench/README.md.

    python bench/bench_onnx.py --threads 1
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
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Callable

import artifacts

BENCH = Path(__file__).resolve().parent
BASELINES = ("genai_builder", "llamacpp")
# (key, header, format, higher_is_better)
METRICS = [
    ("prefill_ms", "prefill ms", "{:.0f}", False),
    ("decode_tok_s", "decode tok/s", "{:.1f}", True),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}", False),
    ("size_mb", "size MB", "{:.1f}", False),
    ("top1_agree", "top-1 agree", "{:.3f}", True),
]


@dataclass(frozen=True)
class Contender:
    name: str  # module in bench/contenders/
    label: str
    artifact: Callable[[Path, Path], Path]  # (cache, hf folder) -> what load() gets
    needs: str  # an importable module; its absence is a skip reason, not a crash


def _ours_artifact(cache: Path, hf: Path) -> Path:
    try:  # edgeslm is being written alongside: any import failure is a reason to skip, not to crash
        found = find_spec("edgeslm.backends.onnx.runner") is not None
    except Exception as e:
        raise artifacts.BuildError(f"importing edgeslm.backends.onnx failed: {type(e).__name__}: {e}") from e
    if not found:
        raise artifacts.BuildError("edgeslm.backends.onnx.runner (OnnxRunner) does not exist yet")
    return artifacts.ours_folder(cache)


CONTENDERS = [
    Contender("reference", "float reference (torch fp32)", lambda cache, hf: hf, "torch"),
    Contender("genai_builder", "ORT GenAI builder int4", artifacts.builder_folder, "onnxruntime_genai"),
    Contender("llamacpp", "llama.cpp Q4_1 GGUF", lambda cache, hf: artifacts.gguf_path(), "llama_cpp"),
    Contender("ours", "edgeslm int4 ONNX", _ours_artifact, "edgeslm"),
]
CONTENDER_BY_NAME = {c.name: c for c in CONTENDERS}


def _has_module(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ImportError:
        return False


def run_contender(c: Contender, artifact: Path, inputs: Path, args, out: Path) -> dict:
    cmd = [sys.executable, str(BENCH / "harness.py"), c.name, "--artifact", str(artifact),
           "--inputs", str(inputs), "--threads", str(args.threads), "--repeats", str(args.repeats),
           "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"[bench] {c.label}: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n  ".join(proc.stderr.strip().splitlines()[-4:])
        raise artifacts.BuildError(f"harness exited {proc.returncode}:\n  {tail}")
    return json.loads(out.read_text())


def top1_agreement(argmax: list[list[int]], reference: list[list[int]]) -> float:
    pairs = [(a, r) for seq, ref in zip(argmax, reference, strict=True) for a, r in zip(seq, ref, strict=True)]
    return sum(a == r for a, r in pairs) / len(pairs)


def print_table(results: dict, skipped: dict) -> None:
    names = list(results)
    width = max(len(CONTENDER_BY_NAME[n].label) for n in names) + 2 if names else 20
    head = "".join(f"{h:>14}" for _, h, _, _ in METRICS)
    better = "higher is better: " + ", ".join(h for _, h, _, up in METRICS if up) + "; lower for the rest"
    print(f"\n{'contender':<{width}}{head}")
    for n in names:
        cells = "".join(f"{fmt.format(results[n][k]):>14}" for k, _, fmt, _ in METRICS)
        print(f"{CONTENDER_BY_NAME[n].label:<{width}}{cells}")
    for base in BASELINES:
        if base not in results:
            continue
        print(f"\nratio contender / {CONTENDER_BY_NAME[base].label}  ({better})")
        for n in names:
            if n == base:
                continue
            cells = "".join(f"{results[n][k] / results[base][k]:>13.2f}x" for k, _, _, _ in METRICS)
            print(f"{CONTENDER_BY_NAME[n].label:<{width}}{cells}")
    for n, reason in skipped.items():
        print(f"\nskipped {CONTENDER_BY_NAME[n].label}: {reason}")


def main() -> None:
    p = argparse.ArgumentParser(description="SmolLM2-135M CPU benchmark: ours vs GenAI builder vs llama.cpp")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for every contender")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per metric (median reported)")
    p.add_argument("--prefill-tokens", type=int, default=128)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--cache-dir", type=Path, default=BENCH / "results" / "cache")
    p.add_argument("--rebuild-ours", action="store_true", help="re-export our bundle (it changes often)")
    p.add_argument("--only", nargs="+", choices=list(CONTENDER_BY_NAME), help="subset (reference always runs)")
    args = p.parse_args()
    if args.prefill_tokens + args.decode_tokens + 1 > 256:
        p.error("prefill + decode tokens must fit the 256-token context (harness.CTX)")

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if args.rebuild_ours:
        shutil.rmtree(args.cache_dir / "ours_int4", ignore_errors=True)
    try:
        hf = artifacts.hf_folder(args.cache_dir)
        inputs = artifacts.make_inputs(hf, args.prefill_tokens, args.decode_tokens)
    except artifacts.BuildError as e:
        sys.exit(f"Error: {e}")
    inputs_path = args.cache_dir / "inputs.json"
    inputs_path.write_text(json.dumps(inputs))
    n_positions = sum(map(len, inputs["eval_ids"]))
    print(f"[bench] eval: {len(inputs['eval_ids'])} prompts, {n_positions} positions from {inputs['source']}",
          file=sys.stderr)

    wanted = ["reference"] + [n for n in (args.only or CONTENDER_BY_NAME) if n != "reference"]
    results, skipped = {}, {}
    for name in wanted:
        c = CONTENDER_BY_NAME[name]
        if not _has_module(c.needs):
            skipped[name] = f"python module {c.needs!r} is not installed (see bench/requirements.txt)"
            continue
        try:
            artifact = c.artifact(args.cache_dir, hf)
            results[name] = run_contender(c, artifact, inputs_path, args, args.cache_dir / f"{name}.json")
        except artifacts.BuildError as e:
            skipped[name] = str(e)
        if name in skipped:
            print(f"[bench] skipping {c.label}: {skipped[name]}", file=sys.stderr)
    if "reference" not in results:
        sys.exit(f"Error: the float reference failed, nothing to compare against: {skipped['reference']}")

    ref = results["reference"]
    for r in results.values():
        r["top1_agree"] = top1_agreement(r["eval_argmax"], ref["eval_argmax"])
    for r in results.values():
        del r["eval_argmax"]  # thousands of ids; the agreement is what the report keeps
    print_table(results, skipped)

    report = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {d: _version(d) for d in ("onnxruntime", "onnxruntime-genai", "llama_cpp_python",
                                              "torch", "transformers", "edgeslm")},
        "inputs": {"source": inputs["source"], "prompts": len(inputs["eval_ids"]), "positions": n_positions},
        "results": results,
        "skipped": skipped,
    }
    out = args.cache_dir.parent / f"bench_onnx_{args.threads}t_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\n[bench] wrote {out}", file=sys.stderr)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
