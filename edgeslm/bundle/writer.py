"""Atomic bundle writes: build in a hidden folder beside the destination, rename at the end.

An interrupted export leaves no folder that looks like a bundle: only `.<name>.partial-<pid>`, which the
next export of the same destination removes. `--force` replaces an existing *bundle* (a folder with an
edgeslm manifest) or an empty folder, never a folder of unrelated files.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from edgeslm.errors import UserError

MANIFEST = "manifest.json"


def is_bundle(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("format_name") == "edgeslm-bundle"
    except (OSError, ValueError, AttributeError):
        return False


def check_destination(dest: Path, force: bool) -> None:
    """Fail before any work when the destination cannot be written."""
    if dest.exists() and not dest.is_dir():
        raise UserError(f"output path {dest} is a file", hint="Pass a folder path with -o/--output.")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise UserError(f"output folder {dest} already exists",
                            hint="Choose another -o/--output, or pass --force to replace an earlier bundle.")
        if not is_bundle(dest):
            raise UserError(f"output folder {dest} exists and is not an edgeslm bundle; --force only replaces bundles",
                            hint="Choose an empty or new folder: edgeslm never deletes files it did not write.")
    parent = dest.parent if dest.parent != Path("") else Path(".")
    if not parent.exists():
        raise UserError(f"the parent folder of {dest} does not exist", hint=f"mkdir -p {parent}")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write in {parent}", hint="Choose an output folder you can write to.")


@contextmanager
def staging_folder(dest: Path):
    """Yield a fresh staging folder; remove it on any failure."""
    stage = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def publish(stage: Path, dest: Path, force: bool) -> None:
    """Move the finished staging folder into place (the manifest is the last file written into it)."""
    check_destination(dest, force)
    if dest.exists():
        old = dest.parent / f".{dest.name}.replaced-{os.getpid()}"
        dest.rename(old)
        stage.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        stage.rename(dest)
