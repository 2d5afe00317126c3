"""onnxruntime's profiler trace as `edgeslm profile --ops`'s per-operator table."""

from __future__ import annotations

import json
from pathlib import Path


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
