"""`edgeslm verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=None)
@click.option("--clinical", is_flag=True,
              help="Also score the shipped clinical pack (MedQA, MedMCQA, PubMedQA, MMLU medical) through the "
                   "bundle's runtime and the float model: answer agreement (Wilson 95% CI), accuracy vs gold, "
                   "answer-distribution KL and largest probability change, against the scheme's budget.")
@click.option("--clinical-n", type=int, default=None, metavar="N",
              help="Questions per clinical set (default 50, at most 200): more is slower and narrows the CI.")
@click.pass_context
def command(ctx, bundle, threads, clinical, clinical_n):
    """Re-check a bundle against its full-precision source (reloaded from the manifest's provenance).

    Checks every file's sha256, then max |Δlogit|, logit SQNR and top-1 agreement (prompts and a greedy
    decode) against the tolerance of the bundle's quant scheme; with --clinical, the medical answers too.
    Exit code 4 when out of tolerance.
    """
    from edgeslm.clinical.check import DEFAULT_PER_SET
    from edgeslm.errors import UserError
    from edgeslm.verify.rerun import reverify

    if clinical_n is not None and clinical_n < 1:
        raise UserError(f"--clinical-n must be at least 1, got {clinical_n}")
    per_set = (clinical_n or DEFAULT_PER_SET) if (clinical or clinical_n is not None) else None
    result = reverify(bundle, threads, clinical_n=per_set)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": result["passed"], **result}, default=str))
    else:
        m = result["metrics"]
        click.echo(f"{bundle}: {'PASS' if result['passed'] else 'FAIL'} ({result['scheme']}) — top-1 "
                   f"{m['prompt_top1']:.3f} prompts / {m['decode_top1']:.3f} decode, SQNR {m['sqnr_db']:.1f} dB, "
                   f"max |Δlogit| {m['max_abs_logit']:.3g}")
        if "clinical" in result:
            from edgeslm.clinical.report import summary_lines

            for line in summary_lines(result["clinical"]):
                click.echo(line)
        for failure in result["failures"]:
            click.echo(f"  - {failure}")
    if not result["passed"]:
        ctx.exit(4)
