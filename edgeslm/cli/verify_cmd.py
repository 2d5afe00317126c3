"""`edgeslm verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeslm.cli.trust_options import pinned_key, signature_options


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(path_type=Path), default=None, metavar="DIR|FILE.gguf",
              help="The full-precision model the bundle was exported from (default: the path in its manifest, "
                   "relative to the bundle, checked like `export --model`).")
@click.option("--adapter", type=click.Path(path_type=Path), default=None,
              help="The PEFT LoRA folder merged at export (default: the manifest's).")
@click.option("--allow-pickle", is_flag=True, help="Load a pickle (.bin) source. Pickle can run code: trust it.")
@click.option("--trust-remote-code", is_flag=True,
              help="Run the source repository's own Python code (never taken from the manifest).")
@click.option("--threads", type=click.IntRange(min=1), default=None)
@signature_options
@click.pass_context
def command(ctx, bundle, source, adapter, allow_pickle, trust_remote_code, threads, require_signature, pubkey):
    """Re-check a bundle against its full-precision source.

    Checks every file's sha256 (and that the bundle holds no other file), then max |Δlogit|, logit SQNR and
    top-1 agreement (prompts and a greedy decode) against the tolerance of the bundle's quant scheme.
    Exit code 4 when out of tolerance. Nothing in the bundle is executed, and trust decisions (pickle, remote
    code) come only from this command line.

    \b
    Examples:
      edgeslm verify out
      edgeslm verify out --source ./BioGPT --require-signature --pubkey release-key.pub.pem
    """
    from edgeslm.verify.rerun import VerifyOptions, reverify

    opts = VerifyOptions(source=source, adapter=adapter, allow_pickle=allow_pickle,
                         trust_remote_code=trust_remote_code, threads=threads,
                         pubkey=pinned_key(require_signature, pubkey))
    result = reverify(bundle, opts)
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
