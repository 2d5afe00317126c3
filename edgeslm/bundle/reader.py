"""Open a bundle for running: manifest, integrity check, tokenizer, the backend's host runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslm.bundle.manifest import read_manifest, require_intact
from edgeslm.errors import UserError
from edgeslm.pipeline.generation import read_generation


@dataclass
class OpenBundle:
    folder: Path
    manifest: dict
    generation: dict
    tokenizer: object
    runner: object


def open_bundle(folder: Path | str, threads: int | None = None, check_integrity: bool = True) -> OpenBundle:
    from transformers import AutoTokenizer

    from edgeslm.backends import BACKENDS

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no bundle folder at {folder}", hint="Pass the folder written by `edgeslm export -o`.")
    manifest = read_manifest(folder)
    if check_integrity:
        require_intact(folder, manifest)
    backend = BACKENDS.get(manifest["format"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return OpenBundle(folder, manifest, read_generation(folder), tokenizer,
                      backend.runner(folder, manifest.get("io"), threads))
