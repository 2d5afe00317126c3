"""--require-signature / --pubkey, shared by run, verify and profile."""

from __future__ import annotations

from pathlib import Path

import click

from edgeslm.errors import UserError


def signature_options(command):
    command = click.option("--pubkey", type=click.Path(path_type=Path), default=None, metavar="PUBLIC.pem",
                           help="The exporter's Ed25519 public key (from `edgeslm keygen`) the bundle must be "
                                "signed with.")(command)
    return click.option("--require-signature", is_flag=True,
                        help="Refuse the bundle unless signature.json is a valid signature by --pubkey over its "
                             "manifest (which lists every file's sha256).")(command)


def pinned_key(require_signature: bool, pubkey: Path | None) -> Path | None:
    """The public key to check the bundle against, or None when no signature is required."""
    if require_signature and pubkey is None:
        raise UserError("--require-signature needs --pubkey PUBLIC.pem",
                        hint="Pass the public key of the exporter you trust (written by `edgeslm keygen`).")
    if pubkey is not None and not require_signature:
        raise UserError("--pubkey is only used with --require-signature",
                        hint="Add --require-signature to check the bundle's signature.")
    return pubkey
