"""Output paths are checked before long work: a profile run or an export must not end on "cannot write there"."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edgeslm.errors import HostEnvironmentError, UserError, as_environment_error


def require_writable_folder(folder: Path) -> None:
    """Probe by writing (and removing) a temporary file of our own: permissions, read-only mounts, a full disk
    (for new files) all show here, where os.access can lie (root, network file systems)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".edgeslm-probe-"):
            pass
    except OSError as exc:
        env = as_environment_error(exc)
        if env is not None:
            raise HostEnvironmentError(f"cannot write in {folder}: {os.strerror(exc.errno)}", hint=env.hint) from None
        raise UserError(f"cannot write in {folder}: {exc.strerror or exc}",
                        hint="Choose an output folder that exists and that you can write to.") from None


def nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_file(path: Path, option: str) -> None:
    """A file to (over)write: not a folder, in a folder that exists (or can be made) and is writable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder", hint=f"Pass a file name to {option}, e.g. {path / 'report.html'}.")
    base = nearest_existing(path.parent)
    if not base.is_dir():
        raise UserError(f"{option} {path}: {base} is a file, not a folder", hint=f"Pass another path to {option}.")
    require_writable_folder(base)


def check_output_folder(path: Path, option: str, own_files: tuple[str, ...], is_ours) -> None:
    """A folder to write `own_files` into: not a file, writable, and no file there of the same name that edgeslm
    did not write (is_ours(path) -> bool tells)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is a file, not a folder", hint=f"Pass a folder path to {option}.")
    base = nearest_existing(path)
    if not base.is_dir():
        raise UserError(f"{option} {path}: {base} is a file, not a folder", hint=f"Pass another path to {option}.")
    require_writable_folder(base)
    theirs = [name for name in own_files if (path / name).exists() and not is_ours(path / name)]
    if theirs:
        raise UserError(f"{option} {path} already holds {', '.join(theirs)} that edgeslm did not write",
                        hint=f"Choose another {option} folder; edgeslm never overwrites a file it did not write.")
