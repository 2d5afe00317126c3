"""Atomic bundle writes: build in a hidden staging folder beside the destination, rename at the end.

An interrupted export (Ctrl-C, SIGTERM) leaves no folder that looks like a bundle, and its staging folder is
removed (bundle/staging.py). `--force` replaces an earlier bundle, but removes only the files its manifest lists
that still hash as written: a folder holding anything else (notes, results, an edited file) is refused, and
nothing in it is deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edgeslm.bundle.layout import MANIFEST, METADATA, confined, listed_files, sha256
from edgeslm.bundle.staging import refuse_if_busy, staging_folder  # noqa: F401  (export imports it from here)
from edgeslm.errors import UserError


def is_bundle(folder: Path) -> bool:
    return _old_manifest(folder) is not None


def _old_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format_name") == "edgeslm-bundle" else None


def owned_files(folder: Path) -> tuple[list[Path], list[str]]:
    """(files edgeslm wrote in an old bundle: listed in its manifest and still hashing as written,
    names of everything else in the folder)."""
    manifest = _old_manifest(folder) or {}
    records = manifest.get("files") if isinstance(manifest.get("files"), list) else []
    written = {r["name"]: r.get("sha256") for r in records if isinstance(r, dict) and isinstance(r.get("name"), str)}
    owned, foreign = [], []
    for name in listed_files(folder):
        try:
            path = confined(folder, name)
            ours = name in written and path.is_file() and not path.is_symlink() and sha256(path) == written[name]
        except UserError:
            ours = False
        (owned.append(path) if ours else foreign.append(name))
    for name in METADATA:
        if (folder / name).is_file() and not (folder / name).is_symlink():
            owned.append(folder / name)
    return owned, foreign


def _refuse_foreign(dest: Path, foreign: list[str]) -> None:
    if foreign:
        shown = ", ".join(foreign[:6]) + (f" and {len(foreign) - 6} more" if len(foreign) > 6 else "")
        raise UserError(f"--force only replaces what edgeslm wrote, and {dest} also holds {len(foreign)} file(s) "
                        f"that are not part of its bundle or changed since the export: {shown}. Nothing was deleted.",
                        hint="Move those files out of the folder (or choose another -o/--output), then run again.")


def check_destination(dest: Path, force: bool) -> None:
    """Fail before any work when the destination cannot be written (or would cost the user a file)."""
    dest = Path(os.path.abspath(dest))
    cwd = Path.cwd().resolve()
    if dest.exists() and not dest.is_dir():
        raise UserError(f"output path {dest} is a file", hint="Pass a folder path with -o/--output.")
    if dest.resolve() == cwd or dest.resolve() in cwd.parents:
        raise UserError(f"output folder {dest} is the current folder (or holds it)",
                        hint="Pass a new folder for the bundle, e.g. -o out.")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise UserError(f"output folder {dest} already exists",
                            hint="Choose another -o/--output, or pass --force to replace an earlier bundle.")
        if not is_bundle(dest):
            raise UserError(f"output folder {dest} exists and is not an edgeslm bundle; --force only replaces bundles",
                            hint="Choose an empty or new folder: edgeslm never deletes files it did not write.")
        _refuse_foreign(dest, owned_files(dest)[1])
    parent = dest.parent
    if not parent.exists():
        raise UserError(f"the parent folder of {dest} does not exist", hint=f"mkdir -p {parent}")
    from edgeslm.outputs import require_writable_folder

    require_writable_folder(parent)
    refuse_if_busy(dest)


def _readable_modes(folder: Path) -> None:
    """Every file as the user's umask would make it (some writers use mkstemp's 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def publish(stage: Path, dest: Path, force: bool) -> None:
    """Move the finished staging folder into place (the manifest is the last file written into it)."""
    dest = Path(os.path.abspath(dest))
    check_destination(dest, force)
    _readable_modes(stage)
    if not dest.exists():
        stage.rename(dest)
        return
    owned, foreign = owned_files(dest)
    _refuse_foreign(dest, foreign)
    old = dest.parent / f".{dest.name}.replaced-{os.getpid()}"
    dest.rename(old)
    stage.rename(dest)
    for path in owned:
        (old / path.relative_to(dest)).unlink()
    for folder in sorted((p for p in old.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        folder.rmdir() if not any(folder.iterdir()) else None
    if any(old.iterdir()):  # a file appeared in the old bundle after the check: keep it, and say where
        import click

        click.echo(f"Kept files edgeslm did not write from the old bundle in {old}", err=True)
    else:
        old.rmdir()
