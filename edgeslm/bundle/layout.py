"""Names every bundle shares, file hashing, and path confinement (a bundle's names never leave its folder)."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from edgeslm.errors import UserError

MANIFEST = "manifest.json"
SIGNATURE = "signature.json"  # written by `edgeslm sign`; not listed in the manifest it signs
METADATA = (MANIFEST, SIGNATURE)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def confined(folder: Path, name: object, what: str = "file") -> Path:
    """folder / name, refused when name is absolute, climbs out with '..', or resolves (symlinks) outside folder."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UserError(f"the bundle lists an invalid {what} name {name!r}", hint="Re-export the bundle.")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise UserError(f"the bundle names a {what} outside its folder: {name!r}",
                        hint="A bundle only refers to files inside its own folder; do not use this bundle.")
    path = Path(folder) / pure
    root = Path(folder).resolve()
    if path.exists() or path.is_symlink():
        real = path.resolve()
        if real != root and root not in real.parents:
            raise UserError(f"the bundle's {what} {name!r} is a link to {real}, outside the bundle",
                            hint="A bundle only refers to files inside its own folder; do not use this bundle.")
    return path


def listed_files(folder: Path) -> list[str]:
    """Every file in the folder, as the manifest names them (POSIX relative paths), the metadata files aside."""
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.relative_to(folder).as_posix() not in METADATA)
