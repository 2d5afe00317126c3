"""Ours: edgeslm's int4 ExecuTorch bundle (`edgeslm export --format executorch --quant int4`), run by the
backend's own host runner (prefill / decode / reset: the harness API)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.backends import BACKENDS


def load(artifact: Path, threads: int, ctx: int):
    # ctx is the bundle's own (max_positions); the runner sizes nothing from it.
    manifest = json.loads((artifact / "manifest.json").read_text())
    # Size ExecuTorch's pool before the program loads: XNNPACK delegates keep the pool they start with.
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(threads)
    return BACKENDS.get(manifest["format"]).runner(artifact, manifest["io"], threads)


def model_files(artifact: Path) -> list[Path]:
    manifest = json.loads((artifact / "manifest.json").read_text())
    return [artifact / f["name"] for f in manifest["files"] if f["name"].endswith((".pte", ".ptd"))]
