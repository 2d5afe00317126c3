"""`edgeslm verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=None)
@click.option("--arm64", is_flag=True,
              help="Instead: run the bundle with the native runner built for linux-arm64, emulated by qemu "
                   "(Cortex-A76, the phone's own NEON/dot-product kernels), and compare its logits with the "
                   "x86_64 build's. Slow (~0.1 GFLOP/s): a few prompts, a dozen tokens each.")
@click.option("--prompts", type=click.IntRange(1, 6), default=2, show_default=True, help="--arm64: prompts to run.")
@click.option("--tokens", type=click.IntRange(1, 256), default=12, show_default=True,
              help="--arm64: positions per prompt.")
@click.pass_context
def command(ctx, bundle, threads, arm64, prompts, tokens):
    """Re-check a bundle against its full-precision source (reloaded from the manifest's provenance).

    Checks every file's sha256, then max |Δlogit|, logit SQNR and top-1 agreement (prompts and a greedy
    decode) against the tolerance of the bundle's quant scheme. Exit code 4 when out of tolerance.

    \b
    With --arm64 (needs cmake, g++-aarch64-linux-gnu, qemu-user; ONNX Runtime comes from PyPI and npm):
      edgeslm verify out --arm64
    """
    if arm64:
        _arm64(ctx, bundle, threads, prompts, tokens)
        return
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


def _arm64(ctx, bundle, threads, prompts, tokens):
    from edgeslm.native.arm64_check import check_arm64

    log = (lambda msg: click.echo(msg, err=True))
    result = check_arm64(bundle, prompts, tokens, threads or 2, log=log)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": result.passed, **result.to_dict()}, default=str))
    else:
        tol = result.tolerance
        click.echo(f"{bundle}: arm64 ({result.cpu}, emulated) vs x86_64: {'PASS' if result.passed else 'FAIL'} — "
                   f"top-1 {result.top1:.3f} over {result.positions} positions, SQNR {result.sqnr_db:.1f} dB, "
                   f"max |Δlogit| {result.max_abs_logit:.3g} (tolerance: top-1 >= {tol['min_top1']}, "
                   f"SQNR >= {tol['min_sqnr_db']} dB)")
    if not result.passed:
        ctx.exit(4)
