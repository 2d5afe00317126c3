"""`edgeslm report`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("report")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--html", "html_out", type=click.Path(path_type=Path), default=None,
              help="Also write a self-contained HTML page with the comparison plots.")
@click.pass_context
def command(ctx, bundles, html_out):
    """Compare profiled bundles side by side (format x quant x target).

    \b
    Example:
      edgeslm profile out-int4 && edgeslm profile out-int8
      edgeslm report out-int4 out-int8 --html compare.html
    """
    from edgeslm.outputs import check_output_file
    from edgeslm.profile.compare import COLUMNS, html_page, markdown, rows

    if html_out:
        check_output_file(html_out, "--html")
    table = rows(list(bundles))
    if html_out:
        html_out.write_text(html_page(table))
    if ctx.obj.get("json"):
        click.echo(json.dumps([dict(zip(COLUMNS, r)) for r in table]))
    else:
        click.echo(markdown(table))
