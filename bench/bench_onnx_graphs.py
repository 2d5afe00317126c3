"""Prefill and decode speed of several ONNX decoder graphs (or ExecuTorch programs), interleaved step by step in one
process.

    python bench/bench_onnx_graphs.py --threads 1 --rounds 5 \
        old=/tmp/bundle-before new=/tmp/bundle-after builder=bench/results/cache/genai_int4

Every graph gets the same 128-token prompt and then 64 greedy tokens of its own; the graphs take turns for each
call (prefill of A, prefill of B, ..., then decode step 1 of A, of B, ...), so a change in machine load falls on all
of them alike. This is how a graph change is measured on a shared 2-core machine: whole-run alternation
(bench_onnx.py) saw the same bundle vary 48-66 tok/s between runs. Each figure is the median over all rounds of
one call's time: prefill ms, and decode tok/s = 1 / median step time. Plain onnxruntime sessions (the options
edgeslm's runner uses; with more than one thread, without spin-waiting, which would let one session's idle pool
starve the next), the graphs' own KV layout (past_key_values.* in, present.* out, growing). A folder holding
model.pte instead is an ExecuTorch bundle, run through edgeslm's runner (`before=... after=...` of two .pte bundles).
Writes bench/results/bench_onnx_graphs_<threads>t_<time>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from driver import write_report  # noqa: E402


class Graph:
    def __init__(self, folder: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        if threads > 1:  # several sessions take turns: a pool spinning after its call would starve the next one
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        self.past = [i.name for i in inputs if i.name.startswith("past_key_values.")]
        first = next(i for i in inputs if i.name.startswith("past_key_values."))
        self.kv_heads = first.shape[1]
        self.head_dim = first.shape[3] if isinstance(first.shape[3], int) else None
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.head_dim = self.head_dim or self._head_dim_from_config(folder)
        self.reset()

    @staticmethod
    def _head_dim_from_config(folder: Path) -> int:
        import json

        decoder = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
        return decoder["head_size"]

    def reset(self) -> None:
        self.cache = [np.zeros((1, self.kv_heads, 0, self.head_dim), np.float32)] * len(self.past)
        self.length, self.logits = 0, None

    def step(self, ids: np.ndarray) -> float:
        total = self.length + ids.shape[1]
        feeds = {"input_ids": ids, "attention_mask": np.ones((1, total), np.int64), **dict(zip(self.past, self.cache))}
        start = time.perf_counter()
        self.logits, *self.cache = self.session.run(self.outputs, feeds)
        elapsed = time.perf_counter() - start
        self.length = total
        return elapsed

    def next_token(self) -> np.ndarray:
        return np.array([[int(self.logits[0, -1].argmax())]], np.int64)


class Program:
    """An ExecuTorch `.pte` through ExecuTorch's pybindings, with the program's own input contract: an edgeslm bundle
    (a manifest beside it) through edgeslm's runner, `forward(tokens, input_pos (1,))`; optimum-executorch's program
    through its bench contender, `forward(input_ids, cache_position (S,))`. The thread pool is sized once, before
    any program loads (resizing it under a loaded program crashes that program)."""

    def __init__(self, folder: Path, threads: int):
        if (folder / "manifest.json").is_file():
            from edgeslm.backends.executorch.runner import ExecuTorchRunner

            self.runner = ExecuTorchRunner(folder)
        else:
            from contenders.optimum_executorch import PteRunner

            self.runner = PteRunner(folder / "model.pte", threads)
        self.reset()

    def reset(self) -> None:
        self.runner.reset()
        self.logits = None

    def step(self, ids: np.ndarray) -> float:
        start = time.perf_counter()
        logits = self.runner.prefill(ids)  # (S, V) at the runner's position, any S
        elapsed = time.perf_counter() - start
        self.logits = logits[None]
        return elapsed

    next_token = Graph.next_token


def load(folder: Path, threads: int):
    """A Graph for a bundle holding model.onnx, a Program for a folder holding model.pte."""
    return Program(folder, threads) if (folder / "model.pte").is_file() else Graph(folder, threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("graphs", nargs="+", help="label=folder holding model.onnx or model.pte (the first is the baseline "
                                             "of the ratios)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--prefill-tokens", type=int, default=128)
    p.add_argument("--decode-tokens", type=int, default=64)
    args = p.parse_args()
    labels, folders = zip(*(g.split("=", 1) for g in args.graphs))
    if any((Path(f) / "model.pte").is_file() for f in folders):
        from edgeslm.backends.executorch.runner import set_thread_count

        set_thread_count(args.threads)  # ExecuTorch's pool, shared by every program: sized before any loads
    graphs = [load(Path(f), args.threads) for f in folders]
    prompt = np.random.default_rng(0).integers(100, 10000, (1, args.prefill_tokens)).astype(np.int64)
    prefill = {label: [] for label in labels}
    decode = {label: [] for label in labels}
    for _ in range(args.rounds):
        for label, g in zip(labels, graphs):
            g.reset()
            prefill[label].append(g.step(prompt))
        for _ in range(args.decode_tokens):
            for label, g in zip(labels, graphs):
                decode[label].append(g.step(g.next_token()))
    rows = {label: {"prefill_ms": 1000 * statistics.median(prefill[label]),
                    "decode_tok_s": 1 / statistics.median(decode[label])} for label in labels}
    base = labels[0]
    print(f"\n{args.threads} thread(s), {args.rounds} rounds, {args.prefill_tokens}-token prefill, "
          f"{args.decode_tokens} decode steps, medians")
    print(f"| graph | prefill ms | decode tok/s | decode / {base} | prefill time / {base} |")
    print("|---|---:|---:|---:|---:|")
    for label in labels:
        r = rows[label]
        print(f"| {label} | {r['prefill_ms']:.0f} | {r['decode_tok_s']:.1f} | "
              f"{r['decode_tok_s'] / rows[base]['decode_tok_s']:.2f}x | "
              f"{r['prefill_ms'] / rows[base]['prefill_ms']:.2f}x |")
    write_report(ROOT / "bench" / "results" / "cache", f"bench_onnx_graphs_{args.threads}t",
                 ("onnxruntime",), {"graphs": dict(zip(labels, folders)), "results": rows,
                                    "threads": args.threads, "rounds": args.rounds})


if __name__ == "__main__":
    main()
