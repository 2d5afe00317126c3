"""`edgeslm sign`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("sign")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--key", "key", required=True, type=click.Path(path_type=Path), metavar="PRIVATE.pem",
              help="Ed25519 private key (PEM; `edgeslm keygen` or `openssl genpkey -algorithm ed25519`).")
@click.pass_context
def command(ctx, bundle, key):
    """Sign a bundle: writes BUNDLE/signature.json, an Ed25519 signature over manifest.json.

    The bundle must be intact and complete first (every file listed with its sha256, nothing else in the
    folder). The manifest holds every file's sha256, so the signature vouches for every byte; check it with
    `--require-signature --pubkey PUBLIC.pem` on run, verify and profile.

    \b
    Example:
      edgeslm sign out --key release-key.pem
    """
    from edgeslm.bundle.reader import checked_manifest
    from edgeslm.trust.signature import sign_bundle

    checked_manifest(bundle)  # a clear error for a missing folder before the key is read
    record = sign_bundle(bundle, key)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "signature": record}))
    else:
        click.echo(f"Signed {bundle} with key {record['key_id'][:16]}… (signature.json)")
