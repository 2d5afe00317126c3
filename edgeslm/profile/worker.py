"""The profiling worker: runs one bundle in its own process so its memory is its own.

`python -m edgeslm.profile.worker SPEC.json OUT.json` — reads the run spec, writes raw timings. The bundle's
manifest `format` picks the backend, whose `profiling_runner` (edgeslm/backends/base.py) runs it: an ONNX bundle
imports only numpy, onnx, onnxruntime and tokenizers (no torch), like an app would; an ExecuTorch bundle loads its
.pte through the ExecuTorch pybindings (which import torch for their shared libraries: the RSS figure says so
through `torch_loaded`).
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


def run(spec: dict) -> dict:
    bundle = Path(spec["bundle"])
    manifest = json.loads((bundle / "manifest.json").read_text())
    fmt = manifest.get("format", "onnx")
    from edgeslm.backends import BACKENDS

    backend = BACKENDS.get(fmt)
    if backend.host_runtime is None:
        raise SystemExit(f"no host runner for {fmt!r} bundles in the profiling worker")
    start = time.perf_counter()
    run = backend.profiling_runner(bundle, manifest.get("io") or {}, spec)
    runner = run.runner
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
    table, about = run.operators(ids) if run.operators is not None else ([], {})
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
