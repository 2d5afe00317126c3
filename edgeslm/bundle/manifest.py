"""manifest.json: the contract between an export and everything downstream (runner, profiler, demo apps,
a regulator reading the provenance). Bump SCHEMA_VERSION on any incompatible change."""

from __future__ import annotations

import json
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

from edgeslm.bundle.layout import MANIFEST, confined, listed_files, sha256  # noqa: F401  (sha256: re-exported)
from edgeslm.errors import UserError

SCHEMA_VERSION = 1
TOOL_PACKAGES = ("edgeslm", "torch", "transformers", "onnx", "onnxruntime", "onnxscript", "gguf", "peft",
                 "numpy", "executorch", "torchao", "coremltools")
# What every reader of a bundle relies on (dotted paths into the manifest) and the type each must have.
REQUIRED = {"format": str, "files": list, "quant.scheme.name": str, "target.name": str, "source.label": str,
            "generation.max_positions": int}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def tool_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in TOOL_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def output_files(folder: Path) -> list[dict]:
    """Every file of the bundle (the manifest lists them all: a file it does not list is refused on reading)."""
    return [{"name": name, "sha256": sha256(folder / name), "bytes": (folder / name).stat().st_size}
            for name in listed_files(folder)]


def write_manifest(folder: Path, body: dict) -> dict:
    manifest = {"format_name": "edgeslm-bundle", "schema_version": SCHEMA_VERSION, **body,
                "tools": tool_versions(), "files": output_files(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def field(manifest: dict, dotted: str):
    value = manifest
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def parse_manifest(text: str | bytes, where: str) -> dict:
    """Parse and check a manifest's shape: every field readers rely on is there with its type, every file record
    names a confined path with a sha256 and a size. A damaged or hand-made manifest is a user error, not a crash."""
    bad = lambda why: UserError(f"{where} is not a valid edgeslm manifest: {why}",  # noqa: E731
                                hint="Re-export the bundle; a manifest is written by `edgeslm export`.")
    try:
        manifest = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{where} is not valid JSON ({str(exc)[:200]})", hint="Re-export the bundle.") from None
    if not isinstance(manifest, dict) or manifest.get("format_name") != "edgeslm-bundle":
        raise UserError(f"{where} is not an edgeslm manifest", hint="Pass the folder written by `edgeslm export`.")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad(f"schema_version is {version!r}")
    if version > SCHEMA_VERSION:
        raise UserError(f"{where} has schema version {version}; this edgeslm reads up to "
                        f"{SCHEMA_VERSION}", hint="Upgrade edgeslm: pip install -U edgeslm")
    for dotted, kind in REQUIRED.items():
        value = field(manifest, dotted)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"{dotted} is {'missing' if value is None else repr(value)[:60]}")
    seen = set()
    for record in manifest["files"]:
        if not (isinstance(record, dict) and isinstance(record.get("name"), str)
                and isinstance(record.get("sha256"), str) and HEX64.match(record["sha256"])
                and isinstance(record.get("bytes"), int)):
            raise bad(f"file record {str(record)[:80]} lacks a name, a sha256 or a size")
        if record["name"] in seen:
            raise bad(f"{record['name']} is listed twice")
        seen.add(record["name"])
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UserError(f"{folder} is not an edgeslm bundle: no {MANIFEST}",
                        hint="Pass the folder written by `edgeslm export`.")
    return parse_manifest(path.read_bytes(), str(path))


def require_intact(folder: Path, manifest: dict) -> None:
    """Refuse a bundle whose files no longer match the manifest: changed, missing, or not listed at all."""
    changed, extra = check_files(folder, manifest)
    if changed:
        raise UserError(f"bundle {folder} does not match its manifest: {', '.join(changed[:5])} changed or missing",
                        hint="Re-export the bundle; a modified bundle is not the one that was verified.")
    if extra:
        raise UserError(f"bundle {folder} holds {len(extra)} file(s) its manifest does not list: "
                        f"{', '.join(extra[:5])}",
                        hint="A bundle is exactly the files its manifest lists; remove the others (they may be "
                             "code or data that was slipped in) or re-export.")


def check_files(folder: Path, manifest: dict) -> tuple[list[str], list[str]]:
    """(names whose sha256 no longer matches the manifest or that are missing, files present but not listed)."""
    changed = []
    for record in manifest.get("files", []):
        path = confined(folder, record["name"])
        if not path.is_file() or sha256(path) != record["sha256"]:
            changed.append(record["name"])
    listed = {record["name"] for record in manifest.get("files", [])}
    return changed, [name for name in listed_files(folder) if name not in listed]
