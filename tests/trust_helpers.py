"""Shared by the fault-and-abuse suite (tests/test_trust_*.py): the CLI with every command, an attacker's
re-hash of a bundle's manifest, and the exit-code assertions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_runner import edgeslm  # noqa: F401  (the trust suite imports it from here)

USER, VERIFY, ENVIRONMENT = 2, 4, 5


def assert_error(result, code, *needles):
    out = result.output
    assert result.exit_code == code, out
    assert "Error:" in out and "Hint:" in out and "Traceback" not in out, out
    assert "This is a bug" not in out, out
    for needle in needles:
        assert needle in out, out


def copy_bundle(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def edit_manifest(bundle: Path, change) -> dict:
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def rehash(bundle: Path) -> dict:
    """What an attacker does after editing files: list every file again with its new sha256."""
    from edgeslm.bundle.manifest import output_files

    return edit_manifest(bundle, lambda m: m.__setitem__("files", output_files(bundle)))
