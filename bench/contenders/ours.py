"""Ours: edgeslm's int4 ONNX bundle (`edgeslm export --target android --quant int4`), run by its runner."""

from __future__ import annotations

from pathlib import Path

from edgeslm.backends.onnx.runner import OnnxRunner


def load(artifact: Path, threads: int, ctx: int) -> OnnxRunner:
    # OnnxRunner already has the harness API (prefill / decode / reset); ctx is the bundle's own.
    return OnnxRunner(artifact, threads=threads)


def model_files(artifact: Path) -> list[Path]:
    return [artifact / "model.onnx", artifact / "model.onnx.data"]
