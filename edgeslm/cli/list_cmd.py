"""`edgeslm list models|targets|archs|quant|formats`: every registry, printable."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table


def _rows(what: str) -> tuple[list[str], list[list]]:
    if what == "models":
        from edgeslm.catalog import CATALOG
        return (["id", "hub id", "type", "params", "licence", "gated", "supported", "note"],
                [[e.id, e.hf_id, e.model_type, f"{e.params / 1e9:.2f}B", e.license, "yes" if e.gated else "",
                  "yes" if e.supported else "no", e.status_note] for _, e in CATALOG.items()])
    if what == "targets":
        from edgeslm.targets import TARGETS
        return (["name", "cpu", "formats", "default", "RAM for app (MB)", "bandwidth GB/s", "runner"],
                [[t.name, t.cpu_arch, ",".join(t.formats), f"{t.default_format} {t.default_quant}",
                  t.available_mb, t.mem_bandwidth_gbs, t.runner] for _, t in TARGETS.items()])
    if what == "archs":
        from edgeslm.archs import ARCHS
        return (["model_type", "family"], [[name, a.family] for name, a in ARCHS.items()])
    if what == "quant":
        from edgeslm.backends import BACKENDS
        from edgeslm.quant import QUANT_SCHEMES
        rows = []
        for _, s in QUANT_SCHEMES.items():  # one row per distinct thing that runs: formats that agree share it
            runs: dict[str, list[str]] = {}
            for n, b in BACKENDS.items():
                if b.supports("", s).ok:
                    runs.setdefault(s.description_for(n), []).append(n)
            rows += [[s.name, s.weight_bits, s.group_size or "-", text, ",".join(formats)]
                     for text, formats in runs.items()]
        return (["scheme", "bits", "group", "description", "formats"], rows)
    from edgeslm.backends import BACKENDS
    return (["format", "file"], [[n, b.extension] for n, b in BACKENDS.items()])


@click.command("list")
@click.argument("what", type=click.Choice(["models", "targets", "archs", "quant", "formats"]))
@click.pass_context
def command(ctx, what):
    """List a registry: the model catalog, targets, architectures, quant schemes or formats."""
    header, rows = _rows(what)
    if ctx.obj.get("json"):
        click.echo(json.dumps([dict(zip(header, r)) for r in rows], default=str))
        return
    table = Table(*header, title=f"edgeslm {what}")
    for row in rows:
        table.add_row(*[str(c) for c in row])
    Console().print(table)
