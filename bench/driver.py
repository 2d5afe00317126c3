"""What the benchmark drivers (bench_onnx.py, bench_executorch.py) share: the speed metrics, the command line
they both take, the cached inputs, and the JSON report's header. Each driver adds its own contenders."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import artifacts
from harness import CTX  # every contender's context

BENCH = Path(__file__).resolve().parent
# (key, header, format, higher_is_better)
SPEED_METRICS = [
    ("prefill_ms", "prefill ms", "{:.0f}", False),
    ("decode_tok_s", "decode tok/s", "{:.1f}", True),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}", False),
    ("size_mb", "size MB", "{:.1f}", False),
    ("top1_agree", "top-1 agree", "{:.3f}", True),
]


def add_common_args(p: argparse.ArgumentParser, repeats_help: str) -> None:
    p.add_argument("--repeats", type=int, default=5, help=repeats_help)
    p.add_argument("--prefill-tokens", type=int, default=128)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--cache-dir", type=Path, default=BENCH / "results" / "cache")
    p.add_argument("--rebuild-ours", action="store_true", help="re-export our bundle (it changes often)")


def prepare_inputs(p: argparse.ArgumentParser, args, ours: str, inputs_name: str, extra_tokens: int):
    """(hf folder, inputs dict, inputs path): the cache ready, our bundle dropped on --rebuild-ours."""
    if args.prefill_tokens + args.decode_tokens + extra_tokens > CTX:
        p.error(f"prefill + decode tokens must fit the {CTX}-token context (harness.CTX)")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if args.rebuild_ours:
        shutil.rmtree(args.cache_dir / ours, ignore_errors=True)
    try:
        hf = artifacts.hf_folder(args.cache_dir)
        inputs = artifacts.make_inputs(hf, args.prefill_tokens, args.decode_tokens)
    except artifacts.BuildError as e:
        sys.exit(f"Error: {e}")
    path = args.cache_dir / inputs_name
    path.write_text(json.dumps(inputs))
    return hf, inputs, path


def has_module(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ImportError:
        return False


def top1_agreement(argmax: list[list[int]], reference: list[list[int]]) -> float:
    pairs = [(a, r) for seq, ref in zip(argmax, reference, strict=True) for a, r in zip(seq, ref, strict=True)]
    return sum(a == r for a, r in pairs) / len(pairs)


def write_report(cache_dir: Path, stem: str, versions: tuple[str, ...], body: dict) -> Path:
    """results/<stem>_<time>.json with the command, time, machine and package versions before `body`."""
    report = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {d: _version(d) for d in versions},
        **body,
    }
    out = cache_dir.parent / f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\n[bench] wrote {out}", file=sys.stderr)
    return out


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def print_pair(title: str, results: dict[str, dict], labels: dict[str, str], metrics: list, ours: str,
               theirs: str) -> None:
    """One table: a row per contender (`-` where a figure is missing), then ours / theirs for each metric."""
    width = max(map(len, labels.values())) + 8
    print(f"\n{title:<{width}}" + "".join(f"{h:>15}" for _, h, _, _ in metrics))
    for name, r in results.items():
        cells = "".join(f"{_cell(fmt, r.get(k)):>15}" for k, _, fmt, _ in metrics)
        print(f"{labels[name]:<{width}}{cells}")
    if ours in results and theirs in results:
        print_ratio("ratio ours / theirs", results[ours], results[theirs], metrics, width)


def print_ratio(title: str, a: dict, b: dict, metrics: list, width: int) -> None:
    """One row of a / b for each metric (`-` where either figure is missing)."""
    cells = "".join(f"{a[k] / b[k]:>14.2f}x" if _number(a.get(k)) and _number(b.get(k)) else f"{'-':>15}"
                    for k, _, _, _ in metrics)
    print(f"{title:<{width}}{cells}")


def _cell(fmt: str, value) -> str:
    if value is None:
        return "-"
    return ("yes" if value else "NO") if isinstance(value, bool) else fmt.format(value)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0
