"""Open a bundle for running: manifest, signature (when one is required), integrity and completeness, the
tokenizer (as data, bundle/tokenizer.py), the backend's host runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslm.bundle.manifest import read_manifest, require_intact
from edgeslm.bundle.tokenizer import load_tokenizer
from edgeslm.errors import UserError


@dataclass
class OpenBundle:
    folder: Path
    manifest: dict
    generation: dict
    tokenizer: object
    runner: object


def checked_manifest(folder: Path | str, pubkey: Path | None = None, check_integrity: bool = True) -> dict:
    """The manifest of an intact, complete bundle, signed by `pubkey` when one is given."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no bundle folder at {folder}", hint="Pass the folder written by `edgeslm export -o`.")
    if pubkey is not None:
        from edgeslm.trust.signature import verify_signature

        return verify_signature(folder, pubkey)
    manifest = read_manifest(folder)
    if check_integrity:
        require_intact(folder, manifest)
    return manifest


def open_bundle(folder: Path | str, threads: int | None = None, check_integrity: bool = True,
                pubkey: Path | None = None) -> OpenBundle:
    from edgeslm.backends import BACKENDS
    from edgeslm.bundle.confine import require_confined_model

    folder = Path(folder)
    manifest = checked_manifest(folder, pubkey, check_integrity)
    backend = BACKENDS.get(manifest["format"])
    require_confined_model(folder, manifest)
    return OpenBundle(folder, manifest, generation_settings(folder), load_tokenizer(folder),
                      backend.runner(folder, manifest.get("io"), threads))


def generation_settings(folder: Path) -> dict:
    import json

    from edgeslm.pipeline.generation import GENERATION_FILE

    try:
        settings = json.loads((folder / GENERATION_FILE).read_bytes())
    except (OSError, ValueError) as exc:
        raise UserError(f"bundle {folder} has no readable {GENERATION_FILE} ({type(exc).__name__})",
                        hint="Re-export the bundle.") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("max_positions"), int):
        raise UserError(f"{folder / GENERATION_FILE} lacks max_positions", hint="Re-export the bundle.")
    return settings
