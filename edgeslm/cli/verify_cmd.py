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
@click.option("--arm64", is_flag=True,
              help="Instead: run the bundle with the native runner built for linux-arm64, emulated by qemu "
                   "(Cortex-A76, the phone's own NEON/dot-product kernels), and compare its logits with the "
                   "x86_64 build's. Slow (~0.1 GFLOP/s): a few prompts, a dozen tokens each.")
@click.option("--clinical", is_flag=True,
              help="Also score the shipped clinical pack (MedQA, MedMCQA, PubMedQA, MMLU medical) through the "
                   "bundle's runtime and the float model: answer agreement (Wilson 95% CI), accuracy vs gold, "
                   "answer-distribution KL and largest probability change, against the scheme's budget.")
@click.option("--clinical-n", type=click.IntRange(1, 200), default=None, metavar="N",
              help="Questions per clinical set (default 50, at most 200): more is slower and narrows the CI.")
@click.option("--prompts", type=click.IntRange(1, 6), default=2, show_default=True, help="--arm64: prompts to run.")
@click.option("--tokens", type=click.IntRange(1, 256), default=12, show_default=True,
              help="--arm64: positions per prompt.")
@signature_options
@click.pass_context
def command(ctx, bundle, source, adapter, allow_pickle, trust_remote_code, threads, clinical, clinical_n, arm64,
            prompts, tokens, require_signature, pubkey):
    """Re-check a bundle against its full-precision source.

    Checks every file's sha256 (and that the bundle holds no other file), then max |Δlogit|, logit SQNR and
    top-1 agreement (prompts and a greedy decode) against the tolerance of the bundle's quant scheme.
    Exit code 4 when out of tolerance. Nothing in the bundle is executed, and trust decisions (pickle, remote
    code) come only from this command line. A streamed bundle (big models) is re-checked in both parts,
    lowering exactness and quantization drift, streamed again from the source.

    \b
    Examples:
      edgeslm verify out
      edgeslm verify out --source ./BioGPT --require-signature --pubkey release-key.pub.pem
      edgeslm verify out --arm64    # needs cmake, g++-aarch64-linux-gnu, qemu-user
    """
    if arm64:
        from edgeslm.bundle.reader import checked_manifest

        checked_manifest(bundle, pinned_key(require_signature, pubkey))  # intact (and signed, if asked) first
        _arm64(ctx, bundle, threads, prompts, tokens)
        return
    from edgeslm.clinical.check import DEFAULT_PER_SET
    from edgeslm.verify.rerun import VerifyOptions, reverify

    per_set = (clinical_n or DEFAULT_PER_SET) if (clinical or clinical_n is not None) else None
    opts = VerifyOptions(source=source, adapter=adapter, allow_pickle=allow_pickle,
                         trust_remote_code=trust_remote_code, threads=threads,
                         pubkey=pinned_key(require_signature, pubkey), clinical_n=per_set)
    result = reverify(bundle, opts)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": result["passed"], **result}, default=str))
    else:
        m = result["metrics"]
        click.echo(f"{bundle}: {'PASS' if result['passed'] else 'FAIL'} ({result['scheme']}) — top-1 "
                   f"{m['prompt_top1']:.3f} prompts / {m['decode_top1']:.3f} decode, SQNR {m['sqnr_db']:.1f} dB, "
                   f"max |Δlogit| {m['max_abs_logit']:.3g}")
        click.echo(f"  measured with {result['runtime']}")
        if "clinical" in result:
            from edgeslm.clinical.report import summary_lines

            for line in summary_lines(result["clinical"]):
                click.echo(line)
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
