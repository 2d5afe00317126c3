"""`edgeslm profile`: on this host, or on a phone over adb / xcrun devicectl."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from edgeslm.cli.trust_options import pinned_key, signature_options


@click.command("profile")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--target", "device", type=click.Choice(["host", "android", "ios"]), default="host", show_default=True,
              help="Where to run: this host, an Android phone over adb, or an iPhone over xcrun devicectl.")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(min=1), help="Timed runs (after --warmup).")
@click.option("--warmup", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--prompt-len", default=128, show_default=True, type=click.IntRange(min=1),
              help="Prompt tokens per run.")
@click.option("--gen-len", default=64, show_default=True, type=click.IntRange(min=1),
              help="Answer tokens per run (greedy).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Runtime threads (default: all cores on the host, 4 on a phone).")
@click.option("--grid-intensity", type=float, default=None, metavar="G_PER_KWH",
              help="Your grid's carbon intensity; only then is CO2e reported.")
@click.option("--sustained", type=int, default=None, metavar="N",
              help="Answer N prompts back to back (no warm-up) and report speed and energy per answer over time.")
@click.option("--ops", is_flag=True, help="Add a per-operator time table (onnxruntime's profiler, or ExecuTorch's ETDump; host only).")
@click.option("--serial", default=None, help="android: adb serial; ios: devicectl identifier, UDID or name. "
              "Needed when several devices are attached.")
@click.option("--runner", type=click.Path(path_type=Path), default=None,
              help="android: override the on-device runner (arguments documented in edgeslm/profile/android.py). "
                   "Default: the one `edgeslm build-runner --ndk DIR` built, else the installed android_demo app's "
                   "benchmark mode.")
@click.option("--app-bundle-id", default="org.edgeslm.demo", show_default=True,
              help="ios: the installed ios_demo app that runs the benchmark.")
@click.option("--ios-app", type=click.Path(path_type=Path), default=None,
              help="ios: a built ios_demo .app to install on the phone before the run.")
@click.option("--idle-s", type=float, default=5.0, show_default=True,
              help="android: seconds of idle battery baseline sampled before the runs.")
@click.option("--from-metrics", type=click.Path(path_type=Path), default=None,
              help="android/ios: render a metrics JSON already pulled from the device instead of running.")
@click.option("--power-csv", type=click.Path(path_type=Path), default=None,
              help="Measured energy from a power monitor's CSV (Monsoon-style: time s, main current mA, main "
                   "voltage V), read after the runs.")
@click.option("--power-t0", type=float, default=None, metavar="UNIX_S",
              help="Unix time of the power CSV's t = 0 (when its times are relative).")
@click.option("--perfetto", type=click.Path(path_type=Path), default=None,
              help="android: measured energy from a Perfetto trace's power rails (or their CSV/JSON export).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: <bundle>.profile next to the bundle). Checked before the run; a "
                   "profile.json/.md/.html there that edgeslm did not write is never overwritten.")
@signature_options
@click.pass_context
def command(ctx, bundle, device, runs, warmup, prompt_len, gen_len, threads, grid_intensity, sustained, ops, serial,
            runner, app_bundle_id, ios_app, idle_s, from_metrics, power_csv, power_t0, perfetto, output,
            require_signature, pubkey):
    """Measure a bundle: load time, time to first token, prefill and decode speed, peak RSS, and energy --
    `measured` (RAPL, a power monitor CSV, Perfetto power rails, the Android battery gauge) or `estimated`
    (the target's power figure x busy time), always labelled with its method. The report shows plan's
    prediction for the same machine next to the measurement. Writes profile.json, profile.md, profile.html.

    \b
    Examples:
      edgeslm profile out --runs 5 --threads 1
      edgeslm profile out --target android --serial R5CT...   # NDK-built runner or the android_demo app
      edgeslm profile out --require-signature --pubkey release-key.pub.pem
      edgeslm profile out --target android --runner ./edgeslm-runner --serial R5CT...
      edgeslm profile out --target android --from-metrics out.metrics.json --power-csv monsoon.csv
      edgeslm profile out --target ios --serial "My iPhone"
    """
    from rich.console import Console

    from edgeslm.bundle.reader import checked_manifest
    from edgeslm.errors import UserError
    from edgeslm.outputs import check_output_folder
    from edgeslm.profile.calibration import prediction_for
    from edgeslm.profile.summary import REPORT_FILES, is_profile_report, markdown, write_reports

    key = pinned_key(require_signature, pubkey)
    manifest = checked_manifest(bundle, key)  # a missing, damaged or unsigned bundle fails here, before any run
    folder = output or bundle.with_name(bundle.name + ".profile")
    check_output_folder(folder, "-o/--output", REPORT_FILES, is_profile_report)  # before the run, not after

    console = Console(stderr=True)
    log = lambda message: console.print(message, markup=False, highlight=False)  # noqa: E731
    if sustained is not None:  # phones throttle: every answer counts, none is a warm-up
        runs, warmup = sustained, 0
    if device == "host":
        for flag, value in (("--serial", serial), ("--runner", runner), ("--from-metrics", from_metrics),
                            ("--perfetto", perfetto), ("--ios-app", ios_app)):
            if value is not None:
                raise UserError(f"{flag} needs --target android or ios", hint=f"edgeslm profile {bundle} "
                                f"--target android {flag} ...")
        profile = _host(bundle, runs, warmup, prompt_len, gen_len, threads, grid_intensity, ops, power_csv,
                        power_t0, console)
    else:
        from edgeslm.profile.device import DeviceSpec

        if ops:
            raise UserError("--ops is host only", hint="Drop --ops, or profile the bundle on the host.")
        spec = DeviceSpec(bundle=bundle, target=device, runs=runs, warmup=warmup, prompt_len=prompt_len,
                          gen_len=gen_len, threads=threads or 4, serial=serial, runner=runner,
                          app_bundle_id=app_bundle_id, ios_app=ios_app, idle_s=idle_s, grid_g_per_kwh=grid_intensity,
                          power_csv=power_csv, power_t0=power_t0, perfetto=perfetto)
        if from_metrics is not None:
            from edgeslm.profile.device_energy import profile_from_metrics

            profile = profile_from_metrics(spec, from_metrics, log)
        else:
            from edgeslm.profile.device import device_profiler

            profile = device_profiler(device)(spec, log)
    profile["prediction"] = prediction_for(profile, manifest)
    for warning in profile["energy"].get("warnings", []):
        log(f"WARNING (energy): {warning}")
    files = write_reports(folder, profile)
    if ctx.obj.get("json"):
        click.echo(json.dumps({"ok": True, "profile": profile, "reports": [str(f) for f in files]}))
    else:
        click.echo(markdown(profile))
        click.echo(f"Reports: {', '.join(str(f) for f in files)}")


def _host(bundle, runs, warmup, prompt_len, gen_len, threads, grid, ops, power_csv, power_t0, console) -> dict:
    from edgeslm.profile.host import ProfileSpec, profile_on_host

    spec = ProfileSpec(bundle, runs, warmup, prompt_len, gen_len, threads, grid, ops)
    start = time.time()
    with console.status(f"profiling {bundle} ({warmup} warm-up + {runs} runs) in a worker process"):
        profile = profile_on_host(spec)
    span = (start, time.time())
    if power_csv is not None:  # read after the run: a monitor streaming to the file has the whole run by now
        from dataclasses import replace

        from edgeslm.profile.power_import import host_energy, read_power_csv

        old = profile["energy"]["j_per_answer"]
        report = host_energy(read_power_csv(power_csv, power_t0), profile, span, warmup, grid)
        report = replace(report, method=f"{report.method} (in place of the {profile['energy']['kind']} "
                                        f"{old:.3f} J/answer: {profile['energy']['method']})")
        profile["energy"] = report.to_dict()
        for answer in profile["per_answer"]:
            answer["j"] = answer["j"] * report.j_per_answer / old if old else report.j_per_answer
    profile["run_span_unix_s"] = list(span)
    return profile
