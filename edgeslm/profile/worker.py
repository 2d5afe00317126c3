"""The profiling worker: runs one bundle in its own process so its memory is its own.

`python -m edgeslm.profile.worker SPEC.json OUT.json` — reads the run spec, writes raw timings. The bundle's
manifest `format` picks the host runner: an ONNX bundle imports only numpy, onnxruntime and tokenizers (no
torch), like an app would; an ExecuTorch bundle loads its .pte through the ExecuTorch pybindings (which
import torch for their shared libraries: the RSS figure says so through `torch_loaded`).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak (ru_maxrss would include what the parent had when it forked)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def host_description() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "logical_cores": os.cpu_count(), "python": platform.python_version()}


def prompt_tokens(bundle: Path, length: int) -> np.ndarray:
    """A fixed clinical text, tokenized with the bundle's own tokenizer, repeated to `length` tokens."""
    from tokenizers import Tokenizer

    text = ("A 58-year-old woman with type 2 diabetes and hypertension presents with three days of fever, "
            "productive cough and shortness of breath. Examination shows crackles at the right base. ")
    ids = Tokenizer.from_file(str(bundle / "tokenizer.json")).encode(text).ids
    reps = -(-length // max(len(ids), 1))
    return np.array((ids * reps)[:length], dtype=np.int64)


def operator_table(trace_file: str, top: int = 12) -> list[dict]:
    """Kernel time per operator type from onnxruntime's profiler trace (Chrome trace JSON)."""
    totals: dict[str, list[float]] = {}
    for event in json.loads(Path(trace_file).read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            entry = totals.setdefault(op, [0.0, 0])
            entry[0] += event["dur"] / 1000.0
            entry[1] += 1
    whole = sum(ms for ms, _ in totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]
    return [{"op": op, "ms": round(ms, 3), "calls": int(n), "share": round(ms / whole, 4)} for op, (ms, n) in rows]


def _onnx(bundle: Path, spec: dict):
    from edgeslm.backends.onnx.runner import OnnxRunner

    runner = OnnxRunner(bundle, threads=spec["threads"], profile_prefix=spec.get("op_profile_prefix"))

    def operators(ids: np.ndarray) -> tuple[list[dict], dict]:
        # onnxruntime profiled the timed runs themselves (its overhead is small and inside the figures).
        return operator_table(runner.session.end_profiling()), {"profiler": "onnxruntime profiler, all runs"}
    return runner, operators


def _executorch(bundle: Path, spec: dict, manifest: dict):
    from edgeslm.backends import BACKENDS

    io = manifest["io"]
    if spec["threads"]:
        # Size ExecuTorch's process-wide pool before any program loads: XNNPACK delegates keep the pool they
        # were initialised with, and resizing it later (_unsafe_reset_threadpool frees the old pool) while a
        # program is loaded leaves them a dangling pointer (segfaults seen in decode).
        from executorch.extension.pybindings import portable_lib

        portable_lib._unsafe_reset_threadpool(spec["threads"])
    runner = BACKENDS.get("executorch").runner(bundle, io, spec["threads"])

    def operators(ids: np.ndarray) -> tuple[list[dict], dict]:
        # A separate, ETDump-enabled pass after the timed runs: its per-op timestamps stay out of the figures.
        from edgeslm.backends.executorch.etdump import profile_operators

        pte = bundle / io.get("model_file", "model.pte")
        found = profile_operators(pte, io, ids, spec["gen_len"], spec["threads"], spec["runs"],
                                  Path(spec["op_profile_prefix"]).parent)
        return found.rows, {**found.to_dict(), "runs": spec["runs"]}
    return runner, operators


def run(spec: dict) -> dict:
    bundle = Path(spec["bundle"])
    manifest = json.loads((bundle / "manifest.json").read_text())
    fmt = manifest.get("format", "onnx")
    start = time.perf_counter()
    if fmt == "onnx":
        runner, operators = _onnx(bundle, spec)
    elif fmt == "executorch":
        runner, operators = _executorch(bundle, spec, manifest)
    else:
        raise SystemExit(f"no host runner for {fmt!r} bundles in the profiling worker")
    load_s = time.perf_counter() - start
    ids = prompt_tokens(bundle, spec["prompt_len"])
    runs = []
    for index in range(spec["warmup"] + spec["runs"]):
        runner.reset()
        t0 = time.perf_counter()
        logits = runner.prefill(ids[None, :])
        token = int(np.argmax(logits[-1]))
        prefill_s = time.perf_counter() - t0
        latencies = []
        for _ in range(spec["gen_len"]):
            t = time.perf_counter()
            token = int(np.argmax(runner.decode(token)))
            latencies.append(time.perf_counter() - t)
        if index >= spec["warmup"]:
            runs.append({"prefill_s": prefill_s, "decode_latencies_s": latencies})
    # Read before the operator pass, which may load a second copy of the program.
    peak, torch_loaded = peak_rss_mb(), "torch" in sys.modules
    table, about = operators(ids) if spec.get("op_profile_prefix") else ([], {})
    return {"load_s": load_s, "runs": runs, "peak_rss_mb": peak, "host": host_description(),
            "threads": spec["threads"], "prompt_len": int(len(ids)), "gen_len": spec["gen_len"],
            "format": fmt, "torch_loaded": torch_loaded, "operators": table,
            "operators_about": about}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
