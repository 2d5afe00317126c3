"""manifest.json: the contract between an export and everything downstream (runner, profiler, demo apps,
a regulator reading the provenance). Bump SCHEMA_VERSION on any incompatible change."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

from edgeslm.bundle.writer import MANIFEST
from edgeslm.errors import UserError

SCHEMA_VERSION = 1
TOOL_PACKAGES = ("edgeslm", "torch", "transformers", "onnx", "onnxruntime", "onnxscript", "gguf", "peft",
                 "numpy", "executorch", "torchao", "coremltools")


def tool_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in TOOL_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def output_files(folder: Path) -> list[dict]:
    return [{"name": str(p.relative_to(folder)), "sha256": sha256(p), "bytes": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST]


def write_manifest(folder: Path, body: dict) -> dict:
    manifest = {"format_name": "edgeslm-bundle", "schema_version": SCHEMA_VERSION, **body,
                "tools": tool_versions(), "files": output_files(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UserError(f"{folder} is not an edgeslm bundle: no {MANIFEST}",
                        hint="Pass the folder written by `edgeslm export`.")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})", hint="Re-export the bundle.") from None
    if manifest.get("format_name") != "edgeslm-bundle":
        raise UserError(f"{path} is not an edgeslm manifest", hint="Pass the folder written by `edgeslm export`.")
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise UserError(f"{path} has schema version {manifest['schema_version']}; this edgeslm reads up to "
                        f"{SCHEMA_VERSION}", hint="Upgrade edgeslm: pip install -U edgeslm")
    return manifest


def require_intact(folder: Path, manifest: dict) -> None:
    """Refuse a bundle whose files no longer match the sha256 the export recorded."""
    if bad := check_files(folder, manifest):
        raise UserError(f"bundle {folder} does not match its manifest: {', '.join(bad[:5])} changed or missing",
                        hint="Re-export the bundle; a modified bundle is not the one that was verified.")


def check_files(folder: Path, manifest: dict) -> list[str]:
    """Names of files whose sha256 no longer matches the manifest (or that are missing)."""
    bad = []
    for record in manifest.get("files", []):
        path = Path(folder) / record["name"]
        if not path.is_file() or sha256(path) != record["sha256"]:
            bad.append(record["name"])
    return bad
