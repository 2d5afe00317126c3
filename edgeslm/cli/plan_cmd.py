"""`edgeslm plan`: size, RAM, fit, predicted speed and estimated energy per format x quant, before exporting."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeslm.pipeline.config import DEFAULT_MAX_SEQ_LEN
from edgeslm.pipeline.memory import HostForecast
from edgeslm.plan import DEFAULT_GEN_LEN, DEFAULT_PROMPT_LEN, ENERGY_LABEL, ENERGY_METHOD


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _print_table(plan) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    a = plan.assumptions
    console = Console()
    console.print(f"edgeslm plan: {plan.model} on {plan.target}: max seq {plan.max_seq_len}, "
                  f"{plan.available_mb:,.0f} MB available to the app. Predictions from the config and the target "
                  "file, not measurements.", markup=False, highlight=False)
    # One table per format (its status in the title) keeps the columns whole in an 80-column terminal; the
    # lines below the tables say what each short header means.
    for fmt in dict.fromkeys(r.format for r in plan.rows):
        rows = [r for r in plan.rows if r.format == fmt]
        table = Table(title=f"{fmt} ({rows[0].status})", box=box.SIMPLE_HEAD, title_justify="left")
        for header in ("quant", "bundle MB", "RAM MB", "fits, margin MB", "tok/s pred.", "TTFT s pred.",
                       "J/tok est.", "J/ans est."):
            table.add_column(header, justify="left" if header == "quant" else "right",
                             no_wrap=header.startswith("fits"))
        for r in rows:
            fits = f"{'yes' if r.fits else 'no'} {r.margin_mb:+,.0f}"
            table.add_row(r.quant, f"{r.bundle_mb:,.0f}", f"{r.runtime_ram_mb:,.0f}",
                          fits if r.fits else f"[red]{fits}[/red]", _fmt(r.decode_tok_s, ",.1f"),
                          _fmt(r.ttft_s, ".2f"), _fmt(r.energy_per_token.joules, ".3f"),
                          _fmt(r.energy_per_answer.joules if r.energy_per_answer else None, ".1f"))
        console.print(table)
    lines = [
        f"tok/s: predicted decode speed; TTFT: predicted time to first token for {plan.prompt_len} prompt tokens; "
        f"J/ans: {plan.prompt_len}-token prompt + {plan.gen_len}-token answer.",
        f"facts from the {plan.facts_source}; sizes and RAM from edgeslm.fit (weights + fp32 KV cache at "
        f"{plan.max_seq_len} tokens + activations + runtime overhead).",
        f"decode: {a['decode']}; efficiency {a['decode_bandwidth_efficiency']} is uncalibrated (not yet "
        f"fitted to `edgeslm profile` measurements; --calibrate PROFILE.json compares one); bandwidth "
        f"{a['mem_bandwidth_gbs']} GB/s.",
        f"TTFT: {a['prefill']}; peak {_fmt(a['peak_gflops'], 'g')} GFLOP/s ({a['peak_gflops_source'] or 'none recorded'})"
        f", efficiency {a['prefill_compute_efficiency']}.",
        f"energy ({ENERGY_LABEL}): {ENERGY_METHOD}; active {a['power_active_w']} W ({a['power_source']}).",
    ]
    if "max_seq_len_clipped" in a:
        lines.append(a["max_seq_len_clipped"] + ".")
    lines += [f"skipped {s['format']} {s['quant']}: {s['reason']}" for s in plan.skipped]
    lines += [f"this host: {HostForecast(**h).line()}" for h in plan.host_export]
    lines += sorted({f"{r.format} {r.quant}: {n}" for r in plan.rows for n in r.notes})
    for line in lines:
        console.print(line, markup=False, highlight=False)


@click.command("plan")
@click.option("--model", "-m", default=None, metavar="ID|DIR|FILE.gguf",
              help="Catalog id (`edgeslm list models`), Hugging Face folder or .gguf file. Nothing is downloaded. "
                   "Default: the embedded SmolLM2-135M-Instruct.")
@click.option("--target", "-t", default="android", show_default=True,
              help="android | ios | linux, or a phone class: android-4gb | android-12gb | android-16gb | "
                   "iphone-8gb (`edgeslm list targets`).")
@click.option("--max-seq-len", default=DEFAULT_MAX_SEQ_LEN, show_default=True,
              help="Longest prompt + answer the bundle would serve (sizes the KV cache).")
@click.option("--prompt-len", default=DEFAULT_PROMPT_LEN, show_default=True,
              help="Prompt tokens for the predicted time to first token.")
@click.option("--gen-len", default=DEFAULT_GEN_LEN, show_default=True,
              help="Answer tokens for the predicted energy per answer.")
@click.option("--trust-remote-code", is_flag=True, help="Let a local model folder's config run its own Python code.")
@click.option("--calibrate", type=click.Path(path_type=Path), default=None, metavar="PROFILE.json",
              help="A profile.json of this model measured on this target (`edgeslm profile`): show the prediction "
                   "next to the measurement and the efficiency constants it implies.")
@click.pass_context
def command(ctx, model, target, max_seq_len, prompt_len, gen_len, trust_remote_code, calibrate):
    """Plan an export: size, RAM, fit, predicted speed and estimated energy per format x quant.

    From the model's config alone (no weights, no download). Speed and energy are predictions from the
    target file (memory bandwidth, power) and stated constants in edgeslm/plan.py, never measurements.

    \b
    Examples:
      edgeslm plan --model biomistral-7b --target android
      edgeslm plan --target linux --max-seq-len 512
      edgeslm --json plan --model ./my-biogpt --target ios
      edgeslm plan --target linux --calibrate out.profile/profile.json
    """
    from edgeslm.plan import make_plan

    plan = make_plan(model, target, max_seq_len, prompt_len, gen_len, trust_remote_code)
    calibration = None
    if calibrate is not None:
        from edgeslm.profile.calibration import calibrate_plan, load_for_plan

        calibration = calibrate_plan(model, plan, load_for_plan(calibrate), calibrate)
    if ctx.obj.get("json"):
        click.echo(json.dumps({**plan.to_dict(), "calibration": calibration}, default=str))
        return
    _print_table(plan)
    if calibration is not None:
        _print_calibration(calibration, calibrate)


def _print_calibration(c: dict, path) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    p, m, k = c["predicted"], c["measured"], c["constants"]
    table = Table(title=f"Calibration: {c['format']} {c['quant']} on {c['target']}, measured in {path} (prompt "
                        f"{c['prompt_len']}, answer {c['gen_len']})", box=box.SIMPLE_HEAD, title_justify="left")
    for header in ("figure", "predicted", "measured", "meas./pred.", "constant", "now", "implied"):
        table.add_column(header, justify="left" if header in ("figure", "constant") else "right")
    table.add_row("decode tok/s", f"{p['decode_tok_s']:.1f}", f"{m['decode_tok_s']:.1f}",
                  f"{c['decode_measured_over_predicted']:.2f}", "DECODE_BANDWIDTH_EFFICIENCY",
                  str(k["decode_bandwidth_efficiency"]), str(c["implied_decode_bandwidth_efficiency"]))
    if p["ttft_s"]:
        table.add_row("TTFT s", f"{p['ttft_s']:.3f}", f"{m['ttft_s']:.3f}", f"{c['ttft_measured_over_predicted']:.2f}",
                      "PREFILL_COMPUTE_EFFICIENCY", str(k["prefill_compute_efficiency"]),
                      str(c["implied_prefill_compute_efficiency"]))
    Console().print(table)
