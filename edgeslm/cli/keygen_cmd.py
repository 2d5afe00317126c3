"""`edgeslm keygen`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("keygen")
@click.argument("name", type=click.Path(path_type=Path))
@click.pass_context
def command(ctx, name):
    """Write an Ed25519 key pair for signing bundles: NAME.pem (private, mode 0600) and NAME.pub.pem (public).

    The files are PEM, as `openssl genpkey -algorithm ed25519 -out NAME.pem` and
    `openssl pkey -in NAME.pem -pubout -out NAME.pub.pem` write them (either tool's keys work with the other).
    Keep NAME.pem with the exporter; give NAME.pub.pem to whoever runs the bundles.

    \b
    Example:
      edgeslm keygen release-key
      edgeslm sign out --key release-key.pem
      edgeslm run out --require-signature --pubkey release-key.pub.pem --prompt "..."
    """
    from edgeslm.trust.keys import generate

    private, public = name.with_name(name.name + ".pem"), name.with_name(name.name + ".pub.pem")
    key = generate(private, public)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "private_key": str(private), "public_key": str(public), "key_id": key}))
    else:
        click.echo(f"Private key: {private} (keep it secret)\nPublic key:  {public}\nKey id:      {key}")
