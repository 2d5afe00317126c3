"""`edgeslm profile`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("profile")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--runs", default=3, show_default=True, help="Timed runs (after --warmup).")
@click.option("--warmup", default=1, show_default=True)
@click.option("--prompt-len", default=128, show_default=True, help="Prompt tokens per run.")
@click.option("--gen-len", default=64, show_default=True, help="Answer tokens per run (greedy).")
@click.option("--threads", type=int, default=None, help="Runtime threads (default: all cores).")
@click.option("--grid-intensity", type=float, default=None, metavar="G_PER_KWH",
              help="Your grid's carbon intensity; only then is CO2e reported.")
@click.option("--sustained", type=int, default=None, metavar="N",
              help="Answer N prompts back to back (no warm-up) and report speed and energy per answer over time.")
@click.option("--ops", is_flag=True, help="Add a per-operator time table (onnxruntime's profiler).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: <bundle>.profile next to the bundle).")
@click.pass_context
def command(ctx, bundle, runs, warmup, prompt_len, gen_len, threads, grid_intensity, sustained, ops, output):
    """Measure a bundle on this host: load time, time to first token, prefill and decode speed, peak RSS,
    and energy (measured from RAPL where readable, otherwise estimated from the target's power figures and
    labelled so). Writes profile.json and profile.md.

    \b
    Example:
      edgeslm profile out --runs 5 --threads 1
    """
    from rich.console import Console

    from edgeslm.profile.host import ProfileSpec, profile_on_host
    from edgeslm.profile.summary import markdown, write_reports

    if sustained is not None:  # phones throttle: every answer counts, none is a warm-up
        runs, warmup = sustained, 0
    spec = ProfileSpec(bundle, runs, warmup, prompt_len, gen_len, threads, grid_intensity, ops)
    with Console(stderr=True).status(f"profiling {bundle} ({warmup} warm-up + {runs} runs) in a worker process"):
        profile = profile_on_host(spec)
    folder = output or bundle.with_name(bundle.name + ".profile")
    files = write_reports(folder, profile)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "profile": profile, "reports": [str(f) for f in files]}))
    else:
        click.echo(markdown(profile))
        click.echo(f"Reports: {', '.join(str(f) for f in files)}")
