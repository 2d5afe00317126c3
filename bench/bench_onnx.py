"""Benchmark the default model (SmolLM2-135M-Instruct) on CPU: edgeslm's int4 ONNX bundle against the
ONNX Runtime GenAI builder and llama.cpp, measured in the same run. See bench/README.md.

    python bench/bench_onnx.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Callable

import artifacts
from driver import (BENCH, SPEED_METRICS, add_common_args, has_module, prepare_inputs, top1_agreement,
                    write_report)

BASELINES = ("genai_builder", "llamacpp")
METRICS = SPEED_METRICS


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
    add_common_args(p, "timed repeats per metric (median reported)")
    p.add_argument("--only", nargs="+", choices=list(CONTENDER_BY_NAME), help="subset (reference always runs)")
    args = p.parse_args()
    hf, inputs, inputs_path = prepare_inputs(p, args, "ours_int4", "inputs.json", extra_tokens=1)
    n_positions = sum(map(len, inputs["eval_ids"]))
    print(f"[bench] eval: {len(inputs['eval_ids'])} prompts, {n_positions} positions from {inputs['source']}",
          file=sys.stderr)

    wanted = ["reference"] + [n for n in (args.only or CONTENDER_BY_NAME) if n != "reference"]
    results, skipped = {}, {}
    for name in wanted:
        c = CONTENDER_BY_NAME[name]
        if not has_module(c.needs):
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

    write_report(args.cache_dir, f"bench_onnx_{args.threads}t",
                 ("onnxruntime", "onnxruntime-genai", "llama_cpp_python", "torch", "transformers", "edgeslm"),
                 {"inputs": {"source": inputs["source"], "prompts": len(inputs["eval_ids"]), "positions": n_positions},
                  "results": results, "skipped": skipped})


if __name__ == "__main__":
    main()
