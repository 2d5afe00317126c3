"""The native runner (runtime/, edgeslm-runner) against `edgeslm profile` (the Python host loop over
onnxruntime) and the ORT GenAI builder's int4 model run by onnxruntime-genai's own generator, on the same
prompt and lengths, same threads, in the same run.

    flock /work/heavy.lock python bench/bench_native.py BUNDLE --threads 1 --rounds 3

The first two run the same timed loop over BUNDLE (prefill of a prompt_len-token clinical prompt, argmax, gen_len
single-token decodes; warm-up untimed). The GenAI generator (`og.Model` + `og.Generator`, greedy, over the
builder's folder from bench/results/cache, built there on first use) is timed the same way: TTFT = append_tokens
of the same prompt ids + the first generate_next_token, decode = the gen_len generate_next_token calls after it
(EOS suppressed, KV buffer of prompt_len + gen_len + 1). All report TTFT and decode tok/s; each round runs every
contender, in a rotating order, so that machine load hits all. Per contender: the median over rounds of each
round's mean. The ratios against the Python loop are the figures to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def python_profile(bundle: Path, args) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "edgeslm", "--json", "profile", str(bundle), "--threads",
                               str(args.threads), "--runs", str(args.runs), "--warmup", "1", "--prompt-len",
                               str(args.prompt_len), "--gen-len", str(args.gen_len), "-o", str(Path(tmp) / "p")],
                              capture_output=True, text=True, check=True)
    prof = json.loads(proc.stdout[proc.stdout.index("{"):])["profile"]
    return prof["time_to_first_token_s"]["mean"] * 1000, prof["decode_tok_per_s"]["mean"]


def native_profile(runner: Path, bundle: Path, args) -> tuple[float, float]:
    from edgeslm.profile.metrics_schema import load_metrics

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        subprocess.run([str(runner), "--bundle", str(bundle), "--threads", str(args.threads), "--runs",
                        str(args.runs), "--warmup", "1", "--prompt-len", str(args.prompt_len), "--gen-len",
                        str(args.gen_len), "--output", str(out)], check=True, capture_output=True, text=True)
        m = load_metrics(out)
    runs = m["runs"]
    return statistics.mean(r["ttft_ms"] for r in runs), statistics.mean(r["decode_tok_per_s"] for r in runs)


def genai_profile(folder: Path, args) -> tuple[float, float]:
    """The builder's model through onnxruntime-genai's generator loop; timed as the edgeslm worker times its own."""
    from contenders.genai_builder import GenaiRunner
    from edgeslm.profile.worker import prompt_tokens

    ctx = args.prompt_len + args.gen_len + 1
    runner = GenaiRunner(folder, args.threads, ctx, search={"min_length": ctx})  # min_length: no early EOS
    ids = prompt_tokens(folder, args.prompt_len)[None, :].astype(np.int32)
    ttft, speed = [], []
    for index in range(1 + args.runs):  # one warm-up
        runner.reset()
        t0 = time.perf_counter()
        runner.generator.append_tokens(ids)
        runner.generator.generate_next_token()
        t1 = time.perf_counter()
        for _ in range(args.gen_len):
            runner.generator.generate_next_token()
        t2 = time.perf_counter()
        if index:
            ttft.append((t1 - t0) * 1000)
            speed.append(args.gen_len / (t2 - t1))
    return statistics.mean(ttft), statistics.mean(speed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=64)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--runner", type=Path, default=None, help="a built edgeslm-runner (default: build for host)")
    ap.add_argument("--no-genai", action="store_true", help="leave out the GenAI builder's generator")
    ap.add_argument("--cache-dir", type=Path, default=Path(__file__).parent / "results" / "cache")
    args = ap.parse_args()
    from edgeslm.native.build import build_runner

    runner = args.runner or build_runner("host", log=lambda m: print(m, file=sys.stderr)).runner
    names = ["python", "native"]
    if not args.no_genai:
        import artifacts

        genai_folder = artifacts.builder_folder(args.cache_dir, artifacts.hf_folder(args.cache_dir))
        names.append("genai")
    measure = {"python": lambda: python_profile(args.bundle, args),
               "native": lambda: native_profile(runner, args.bundle, args),
               "genai": lambda: genai_profile(genai_folder, args)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for i in range(args.rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            got = measure[name]()
            results[name].append(got)
            print(f"round {i + 1} {name:6s}: TTFT {got[0]:8.1f} ms   decode {got[1]:6.1f} tok/s", file=sys.stderr)
    summary = {name: {"ttft_ms": statistics.median(r[0] for r in rows),
                      "decode_tok_per_s": statistics.median(r[1] for r in rows)} for name, rows in results.items()}
    for name in names[1:]:
        summary[f"ratio_{name}_over_python"] = {
            "decode_tok_per_s": summary[name]["decode_tok_per_s"] / summary["python"]["decode_tok_per_s"],
            "ttft": summary[name]["ttft_ms"] / summary["python"]["ttft_ms"]}
    summary["rounds"] = results
    summary["settings"] = {"threads": args.threads, "runs": args.runs, "rounds": args.rounds,
                           "prompt_len": args.prompt_len, "gen_len": args.gen_len, "bundle": str(args.bundle),
                           "runner": str(runner), **({"genai_folder": str(genai_folder)} if "genai" in names else {})}
    print(f"{'contender':10s} {'TTFT ms':>9s} {'decode tok/s':>13s}")
    for name in names:
        print(f"{name:10s} {summary[name]['ttft_ms']:9.1f} {summary[name]['decode_tok_per_s']:13.1f}")
    for name in names[1:]:
        r = summary[f"ratio_{name}_over_python"]
        print(f"{name}/python: decode x{r['decode_tok_per_s']:.2f}, TTFT x{r['ttft']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
