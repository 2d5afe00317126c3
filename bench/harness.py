"""Measure one contender inside its own process, so peak RSS is that contender's alone.

Run by bench_onnx.py as `python bench/harness.py NAME --artifact A --inputs I --threads N --out O`.
NAME is a module in bench/contenders/ that provides

    load(artifact: Path, threads: int, ctx: int) -> runner   # runner: .prefill / .decode / .reset
    model_files(artifact: Path) -> list[Path]                # what "size on disk" counts

with the runner API of edgeslm.backends.onnx.runner.OnnxRunner:
    prefill(ids: int64 (1, S)) -> logits (S, vocab);  decode(token_id: int) -> logits (vocab,);  reset().
Only numpy is imported here: the contender's own imports are the only other memory in the process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Every contender gets the same context: 128 prompt + 64 decode tokens fit, eval prompts are <= 128.
CTX = 256


def _time_prefill(runner, ids: np.ndarray, repeats: int) -> list[float]:
    """Wall times (ms) of prefills over `ids` from an empty cache, logits for every position."""
    times = []
    for _ in range(repeats):
        runner.reset()
        t0 = time.perf_counter()
        runner.prefill(ids)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _time_decode(runner, ids: np.ndarray, n_tokens: int, repeats: int) -> tuple[list[float], list[int]]:
    """Greedy decode speeds (tok/s) over n_tokens after prefilling `ids`; also the tokens."""
    speeds, tokens = [], []
    for _ in range(repeats):
        runner.reset()
        token = int(np.argmax(runner.prefill(ids)[-1]))
        tokens = [token]
        t0 = time.perf_counter()
        for _ in range(n_tokens):
            token = int(np.argmax(runner.decode(token)))
            tokens.append(token)
        speeds.append(n_tokens / (time.perf_counter() - t0))
    return speeds, tokens


def _teacher_forced_argmax(runner, prompts: list[list[int]]) -> list[list[int]]:
    """Argmax at every position of every eval prompt (the prompt is the forced continuation)."""
    out = []
    for prompt in prompts:
        runner.reset()
        logits = runner.prefill(np.asarray([prompt], dtype=np.int64))
        out.append(np.argmax(logits, axis=-1).astype(int).tolist())
    return out


def _peak_rss_bytes() -> int:
    """High-water RSS of this process since its exec.

    Not ru_maxrss: Linux carries it over from the parent across fork + exec, so every contender would
    report at least the driver's RSS. VmHWM belongs to the address space that exec created.
    """
    return proc_status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS: bytes


def proc_status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (VmHWM, VmRSS) in bytes; 0 where there is no /proc."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # kB
    return 0


def add_run_args(p: argparse.ArgumentParser) -> None:
    """The arguments every per-contender process takes from its driver."""
    p.add_argument("--inputs", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, required=True)


def measure(module, artifact: Path, inputs: dict, threads: int, repeats: int) -> dict:
    t0 = time.perf_counter()
    runner = module.load(artifact, threads, CTX)
    load_s = time.perf_counter() - t0
    prefill_ids = np.asarray([inputs["prefill_ids"]], dtype=np.int64)
    n_decode = inputs["decode_tokens"]
    # Warm-up: first calls allocate buffers and pick kernels; not what a user sees per request.
    runner.reset()
    runner.prefill(prefill_ids)
    runner.decode(0)
    prefill_ms = _time_prefill(runner, prefill_ids, repeats)
    decode_tok_s, greedy = _time_decode(runner, prefill_ids, n_decode, repeats)
    # Best of the repeats is the headline: on a shared machine other load only ever slows a run down,
    # so the best is the most reproducible figure. The median is kept to show the spread.
    argmax = _teacher_forced_argmax(runner, inputs["eval_ids"])
    files = module.model_files(artifact)
    return {
        "threads": threads,
        "load_s": load_s,
        "prefill_tokens": prefill_ids.shape[1],
        "prefill_ms": min(prefill_ms),
        "prefill_ms_median": statistics.median(prefill_ms),
        "decode_tokens": n_decode,
        "decode_tok_s": max(decode_tok_s),
        "decode_tok_s_median": statistics.median(decode_tok_s),
        "peak_rss_mb": _peak_rss_bytes() / 1e6,
        "size_mb": sum(f.stat().st_size for f in files) / 1e6,
        "size_files": [f.name for f in files],
        # A torch import costs hundreds of MB of RSS; say so when a contender pulls it in.
        "torch_loaded": "torch" in sys.modules,
        "greedy_tokens": greedy,
        "eval_argmax": argmax,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("contender", help="module name in bench/contenders/")
    p.add_argument("--artifact", type=Path, required=True)
    add_run_args(p)
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    module = importlib.import_module(f"contenders.{args.contender}")
    inputs = json.loads(args.inputs.read_text())
    result = measure(module, args.artifact, inputs, args.threads, args.repeats)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
