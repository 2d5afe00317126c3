"""`edgeslm compare`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("compare")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--clinical-n", type=click.IntRange(1, 200), default=10, show_default=True, metavar="N",
              help="Clinical questions per set scored on every bundle and the float model.")
@click.option("--html", "html_out", type=click.Path(path_type=Path), default=None,
              help="Also write a self-contained HTML page with the table and a heat map.")
@click.option("--threads", type=int, default=None)
@click.pass_context
def command(ctx, bundles, clinical_n, html_out, threads):
    """Cross-format parity: bundles of one source side by side against its float model and each other.

    \b
    Per bundle: size, top-1 agreement (prompts, decode), logit SQNR, clinical answer agreement with its
    Wilson 95% CI, largest answer-probability change, accuracy. Then pairwise answer agreement between all.
    Example:
      edgeslm compare out-onnx out-et out-ios --html parity.html
    """
    from edgeslm.clinical.parity import parity
    from edgeslm.errors import UserError

    if clinical_n < 1:
        raise UserError(f"--clinical-n must be at least 1, got {clinical_n}")
    result = parity(list(bundles), clinical_n, threads)
    if html_out is not None:
        from edgeslm.clinical.parity_html import render

        Path(html_out).write_text(render(result))
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, **result}, default=str))
        return
    click.echo(f"{result['source']}: {result['questions']} clinical questions, float accuracy "
               f"{result['reference_accuracy']:.3f}")
    click.echo(f"{'bundle':18s} {'MiB':>7s} {'top-1':>6s} {'dec':>6s} {'SQNR':>6s} {'agree':>6s} {'95% CI':>13s} "
               f"{'maxΔp':>6s}")
    for r in result["rows"]:
        lo, hi = r["answer_agreement_ci95"]
        click.echo(f"{r['name']:18s} {r['bytes'] / 2**20:7.1f} {r['prompt_top1']:6.3f} {r['decode_top1']:6.3f} "
                   f"{r['sqnr_db']:6.1f} {r['answer_agreement']:6.3f} {lo:6.3f}-{hi:6.3f} {r['max_prob_change']:6.3f}")
    click.echo("pairwise answer agreement:")
    for name, row in zip(result["matrix_labels"], result["agreement_matrix"]):
        click.echo(f"  {name:18s} " + " ".join(f"{v:6.3f}" for v in row))
    if html_out is not None:
        click.echo(f"HTML: {html_out}")
