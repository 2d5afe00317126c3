"""Per-operator time of an ExecuTorch program, from an ETDump read by `executorch.devtools.Inspector`.

The program is loaded a second time with ETDump enabled (`_load_for_executorch(path, enable_etdump=True)`),
driven through the same prefill + greedy decode an answer takes, and the dump is folded into the table
`edgeslm.backends.onnx.profiling.operator_table` makes for ONNX: one row per operator with its total `ms` over all
calls, `calls`, `share` of the operator time, plus `delegated` (inside an XNNPACK delegate, or left to
ExecuTorch's own CPU kernels).

Kept apart from the timed runs on purpose: ETDump records a timestamp pair per operator, and an XNNPACK
delegate profiles every one of its ops, which slows short ops down; the speed figures must not carry that.

Event names without an ETRecord (a bundle ships none): ExecuTorch's own kernels appear as
`native_call_<op>.out`; XNNPACK's as its operator names (`Fully Connected (NC, QD8, F32, QC4W) GEMM #3`,
numbered per delegate node: the number is dropped to group by operator). `OPERATOR_CALL` (dispatch overhead
of the previous kernel), `DELEGATE_CALL` (a whole delegate) and `Method::*` / `Program::*` are totals
over the rows above, not operators, and are reported apart (`overhead_ms`, `delegate_call_ms`).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeslm.errors import UnsupportedError

NATIVE_PREFIX = "native_call_"
DELEGATE_CALL = "DELEGATE_CALL"
OPERATOR_CALL = "OPERATOR_CALL"
FRAMEWORK = ("Method::", "Program::")
_NODE_NUMBER = re.compile(r"\s+#\d+$")


@dataclass(frozen=True)
class OperatorProfile:
    rows: list[dict]  # op, ms, calls, share, delegated; the top ones by ms
    delegated_ms: float  # inside XNNPACK delegates (sum of their operator events)
    portable_ms: float  # ExecuTorch's own kernels
    delegate_call_ms: float  # whole-delegate spans (includes XNNPACK's own overhead around its ops)
    overhead_ms: float  # OPERATOR_CALL: per-kernel dispatch outside the kernels
    execute_ms: float  # Method::execute: every forward call end to end
    forward_calls: int

    def to_dict(self) -> dict:
        return {"delegated_ms": self.delegated_ms, "portable_ms": self.portable_ms,
                "delegate_call_ms": self.delegate_call_ms, "overhead_ms": self.overhead_ms,
                "execute_ms": self.execute_ms, "forward_calls": self.forward_calls,
                "profiler": "ExecuTorch ETDump + executorch.devtools.Inspector"}


def register_kernels() -> None:
    """The llama:: (custom_sdpa, update_cache) and quantized_decomposed:: (embedding_byte, ...) kernels are
    not in the core pybindings; importing these modules registers them with the runtime."""
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401
    import executorch.kernels.quantized  # noqa: F401


def _positions(io: dict, start: int, length: int):
    """The program's position input: edgeslm's `input_pos` (1,) start, or HF-style `cache_position` (S,)."""
    import torch

    name = io["inputs"][1] if len(io.get("inputs", [])) == 2 else None
    if name == "input_pos":
        return torch.tensor([start], dtype=torch.long)
    if name == "cache_position":
        return torch.arange(start, start + length, dtype=torch.long)
    raise UnsupportedError(f"no ETDump driver for a program with inputs {io.get('inputs')}",
                           hint="Expected [tokens, input_pos] (edgeslm) or [input_ids, cache_position].")


def record(pte: Path, io: dict, ids: np.ndarray, gen_len: int, threads: int | None, runs: int,
           etdump_file: Path) -> int:
    """Run `runs` answers (prefill of `ids` + `gen_len` greedy decodes) with ETDump on; write the dump.
    Returns the number of forward calls made (all answers, the caller's warm-up included)."""
    from executorch.extension.pybindings import portable_lib

    register_kernels()
    before = portable_lib._threadpool_get_thread_count()
    if threads and threads != before:
        portable_lib._unsafe_reset_threadpool(threads)
    try:
        return _drive(portable_lib._load_for_executorch(str(pte), enable_etdump=True), io, ids, gen_len, runs,
                      etdump_file)
    finally:  # the pool is process-wide: leave it as found (ARCHITECTURE.md convention 4)
        if threads and threads != before:
            portable_lib._unsafe_reset_threadpool(before)


def _drive(module, io: dict, ids: np.ndarray, gen_len: int, runs: int, etdump_file: Path) -> int:
    import torch

    method = io.get("method", "forward")
    calls = 0
    for _ in range(runs):
        tokens = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64)).reshape(1, -1)
        logits = module.run_method(method, [tokens, _positions(io, 0, tokens.shape[1])])[0]
        calls += 1
        pos, token = tokens.shape[1], int(torch.argmax(logits[0, -1]))
        for _ in range(gen_len):
            step = torch.tensor([[token]], dtype=torch.long)
            logits = module.run_method(method, [step, _positions(io, pos, 1)])[0]
            calls += 1
            pos, token = pos + 1, int(torch.argmax(logits[0, -1]))
    if not module.has_etdump():
        raise UnsupportedError("this ExecuTorch runtime was built without ETDump support",
                               hint="Install the executorch pip wheel (it has ETDump), or profile without --ops.")
    module.write_etdump_result_to_file(str(etdump_file))
    return calls


def _op_key(name: str) -> str:
    if name.startswith(NATIVE_PREFIX):
        return name[len(NATIVE_PREFIX):]
    return _NODE_NUMBER.sub("", name)


def operator_profile(etdump_file: Path, forward_calls: int = 0, top: int = 12,
                     warmup_calls: int = 0) -> OperatorProfile:
    """Fold the Inspector's event blocks into per-operator totals (ms over every call).

    An event is one instruction of the program and its `raw` one time per execution, in call order: for the
    instructions every forward call runs (len(raw) == forward_calls) the first `warmup_calls` times are
    dropped -- first calls allocate and spin up threads, which is not per-token cost."""
    from executorch.devtools import Inspector

    with warnings.catch_warnings():  # "Output Buffer not found": no debug buffer was asked for, by design
        warnings.simplefilter("ignore", UserWarning)
        inspector = Inspector(etdump_path=str(etdump_file))
    totals: dict[tuple[str, bool], list[float]] = {}
    delegate_call = overhead = execute = 0.0
    for block in inspector.event_blocks:
        for event in block.events:
            raw = list(event.perf_data.raw) if event.perf_data is not None else []
            if warmup_calls and len(raw) == forward_calls:
                raw = raw[warmup_calls:]
            if not raw:
                continue
            name = event.name
            if name == DELEGATE_CALL:
                delegate_call += sum(raw)
            elif name == OPERATOR_CALL:
                overhead += sum(raw)
            elif name == "Method::execute":
                execute += sum(raw)
            elif name.startswith(FRAMEWORK):
                continue  # load and init: once, not per token
            else:
                entry = totals.setdefault((_op_key(name), bool(event.is_delegated_op)), [0.0, 0])
                entry[0] += sum(raw)
                entry[1] += len(raw)
    whole = sum(ms for ms, _ in totals.values()) or 1.0
    ordered = sorted(totals.items(), key=lambda kv: -kv[1][0])
    rows = [{"op": op, "ms": round(ms, 3), "calls": int(n), "share": round(ms / whole, 4), "delegated": delegated}
            for (op, delegated), (ms, n) in ordered[:top]]
    delegated_ms = sum(ms for (_, d), (ms, _) in totals.items() if d)
    return OperatorProfile(rows, round(delegated_ms, 6), round(whole - delegated_ms if totals else 0.0, 6),
                           round(delegate_call, 6), round(overhead, 6), round(execute, 6),
                           forward_calls - warmup_calls)


def profile_operators(pte: Path, io: dict, ids: np.ndarray, gen_len: int, threads: int | None, runs: int,
                      workdir: Path, top: int = 12) -> OperatorProfile:
    """Record an ETDump over one warm-up answer + `runs` answers; fold the `runs` into the operator table."""
    etdump_file = Path(workdir) / "program.etdp"
    calls = record(pte, io, ids, gen_len, threads, runs + 1, etdump_file)
    return operator_profile(etdump_file, calls, top, warmup_calls=1 + gen_len)
