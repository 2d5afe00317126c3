"""The native runner (runtime/, edgeslm-runner) against `edgeslm profile` (the Python host loop over
onnxruntime) on the same bundle, same threads, same prompt and lengths, in the same run.

    flock /work/heavy.lock python bench/bench_native.py BUNDLE --threads 1 --rounds 3

Both run the same timed loop (prefill of a prompt_len-token clinical prompt, argmax, gen_len single-token decodes;
warm-up untimed) and report TTFT and decode tok/s; the rounds alternate the two so that machine load hits both.
Per contender: the median over rounds of each round's mean. The ratio native/python is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=64)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from edgeslm.native.build import build_runner

    runner = build_runner("host", log=lambda m: print(m, file=sys.stderr)).runner
    results: dict[str, list[tuple[float, float]]] = {"python": [], "native": []}
    for i in range(args.rounds):
        order = ("python", "native") if i % 2 == 0 else ("native", "python")
        for name in order:
            got = python_profile(args.bundle, args) if name == "python" else native_profile(runner, args.bundle, args)
            results[name].append(got)
            print(f"round {i + 1} {name:6s}: TTFT {got[0]:8.1f} ms   decode {got[1]:6.1f} tok/s", file=sys.stderr)
    summary = {name: {"ttft_ms": statistics.median(r[0] for r in rows),
                      "decode_tok_per_s": statistics.median(r[1] for r in rows)} for name, rows in results.items()}
    summary["ratio_native_over_python"] = {
        "decode_tok_per_s": summary["native"]["decode_tok_per_s"] / summary["python"]["decode_tok_per_s"],
        "ttft": summary["native"]["ttft_ms"] / summary["python"]["ttft_ms"]}
    summary["settings"] = {"threads": args.threads, "runs": args.runs, "rounds": args.rounds,
                           "prompt_len": args.prompt_len, "gen_len": args.gen_len, "bundle": str(args.bundle)}
    print(f"{'contender':10s} {'TTFT ms':>9s} {'decode tok/s':>13s}")
    for name in ("python", "native"):
        print(f"{name:10s} {summary[name]['ttft_ms']:9.1f} {summary[name]['decode_tok_per_s']:13.1f}")
    r = summary["ratio_native_over_python"]
    print(f"native/python: decode x{r['decode_tok_per_s']:.2f}, TTFT x{r['ttft']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
