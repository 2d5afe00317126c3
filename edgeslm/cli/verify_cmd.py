"""`edgeslm verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=None)
@click.pass_context
def command(ctx, bundle, threads):
    """Re-check a bundle against its full-precision source (reloaded from the manifest's provenance).

    Checks every file's sha256, then max |Δlogit|, logit SQNR and top-1 agreement (prompts and a greedy
    decode) against the tolerance of the bundle's quant scheme. Exit code 4 when out of tolerance.
    """
    from edgeslm.verify.rerun import reverify

    result = reverify(bundle, threads)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": result["passed"], **result}, default=str))
    else:
        m = result["metrics"]
        click.echo(f"{bundle}: {'PASS' if result['passed'] else 'FAIL'} ({result['scheme']}) — top-1 "
                   f"{m['prompt_top1']:.3f} prompts / {m['decode_top1']:.3f} decode, SQNR {m['sqnr_db']:.1f} dB, "
                   f"max |Δlogit| {m['max_abs_logit']:.3g}")
        click.echo(f"  measured with {result['runtime']}")
        for failure in result["failures"]:
            click.echo(f"  - {failure}")
        for check in result.get("checks_not_run", []):
            click.echo(f"  check {check['name']} not run: {check['reason']}")
    if not result["passed"]:
        ctx.exit(4)
