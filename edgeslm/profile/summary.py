"""Turn the worker's raw timings into the profile (versioned schema) and its Markdown report."""

from __future__ import annotations

import statistics
from pathlib import Path

from edgeslm.profile.energy import EnergyReport

PROFILE_SCHEMA_VERSION = 1


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def summarize(raw: dict, manifest: dict, bundle_bytes: int, energy: EnergyReport) -> dict:
    runs = raw["runs"]
    prompt_len, gen_len = raw["prompt_len"], raw["gen_len"]
    prefill = [r["prefill_s"] for r in runs]
    decode_rates = [len(r["decode_latencies_s"]) / sum(r["decode_latencies_s"]) for r in runs]
    per_token_ms = [1000 * statistics.fmean(step) for step in zip(*(r["decode_latencies_s"] for r in runs))]
    mean_busy = statistics.fmean(r["prefill_s"] + sum(r["decode_latencies_s"]) for r in runs)
    return {
        "schema_version": PROFILE_SCHEMA_VERSION,
        "bundle": {"format": manifest["format"], "quant": manifest["quant"]["scheme"]["name"],
                   "target": manifest["target"]["name"], "model": manifest["source"]["label"],
                   "size_mb": bundle_bytes / 2**20, "verified": manifest.get("verified"),
                   "accuracy": accuracy_of(manifest)},
        # A device run (metrics_schema.to_raw) says where it ran; the host worker describes the host.
        "device": raw["device"] if "device" in raw else {"where": "host", **raw["host"]},
        "settings": {"runs": len(runs), "prompt_len": prompt_len, "gen_len": gen_len, "threads": raw["threads"]},
        "load_s": raw["load_s"],
        "time_to_first_token_s": _stats(prefill),
        "prefill_tok_per_s": _stats([prompt_len / p for p in prefill]),
        "decode_tok_per_s": _stats(decode_rates),
        "decode_latency_ms_per_token": per_token_ms,
        # One entry per answer, in order: phones throttle, and a mean over runs hides it (--sustained N).
        "per_answer": [{"prefill_s": r["prefill_s"], "decode_tok_per_s": rate,
                        "j": energy.j_per_answer * (r["prefill_s"] + sum(r["decode_latencies_s"])) / mean_busy}
                       for r, rate in zip(runs, decode_rates)],
        "peak_rss_mb": raw["peak_rss_mb"],
        "energy": energy.to_dict(),
        "operators": raw.get("operators", []),
        "operators_about": raw.get("operators_about", {}),  # which profiler; ExecuTorch: delegated vs portable ms
        "torch_loaded": raw.get("torch_loaded"),
    }


def accuracy_of(manifest: dict) -> dict:
    """What the bundle's manifest says of its answers, beside its speed: verify's agreement with the float model,
    and the clinical pack's (exported or re-verified with --clinical)."""
    out = {}
    metrics = (manifest.get("verify") or {}).get("metrics") or {}
    if "prompt_top1" in metrics:
        out["verify"] = {"prompt_top1": metrics["prompt_top1"], "decode_top1": metrics.get("decode_top1"),
                         "sqnr_db": metrics.get("sqnr_db")}
    clinical = (manifest.get("clinical") or {}).get("metrics") or {}
    if "agreement" in clinical:
        out["clinical"] = {"agreement": clinical["agreement"], "agreement_ci95": clinical.get("agreement_ci95"),
                           "questions": clinical.get("questions"), "passed": manifest["clinical"].get("passed")}
    return out


def markdown_rows(profile: dict) -> list[tuple[str, str]]:
    b, e = profile["bundle"], profile["energy"]
    ttft, pre, dec = profile["time_to_first_token_s"], profile["prefill_tok_per_s"], profile["decode_tok_per_s"]
    rows = [
        ("load", f"{profile['load_s']:.2f} s"),
        ("time to first token", f"{ttft['mean'] * 1000:.0f} ± {ttft['sd'] * 1000:.0f} ms"),
        ("prefill", f"{pre['mean']:.1f} ± {pre['sd']:.1f} tok/s"),
        ("decode", f"{dec['mean']:.1f} ± {dec['sd']:.1f} tok/s"),
        ("peak RSS", f"{profile['peak_rss_mb']:.0f} MB"),
        ("bundle size", f"{b['size_mb']:.1f} MiB"),
        (f"energy per answer ({e['kind']})", f"{e['j_per_answer']:.2f} J"),
        (f"decode energy ({e['kind']})", f"{e['decode_j_per_token'] * 1000:.1f} mJ/token, {e['tokens_per_j']:.1f} tokens/J"),
    ]
    if e["co2e_g_per_answer"] is not None:
        rows.append((f"CO2e per answer ({e['kind']}, your grid intensity)", f"{e['co2e_g_per_answer']:.4f} g"))
    accuracy = b.get("accuracy") or {}
    if "verify" in accuracy:
        v = accuracy["verify"]
        rows.append(("agreement with the float model (verify)", f"top-1 {v['prompt_top1']:.3f} prompts, "
                     f"{v['decode_top1']:.3f} decode; logit SQNR {v['sqnr_db']:.1f} dB"))
    if "clinical" in accuracy:
        c = accuracy["clinical"]
        low, high = c["agreement_ci95"] or (float("nan"), float("nan"))
        rows.append(("clinical answer agreement", f"{c['agreement']:.3f} (95% CI {low:.3f}-{high:.3f}) over "
                     f"{c['questions']} questions, {'within' if c['passed'] else 'OVER'} budget"))
    return rows


def markdown(profile: dict) -> str:
    b, s, e = profile["bundle"], profile["settings"], profile["energy"]
    d = profile["device"]
    where = "this host" if d["where"] == "host" else f"the {d['where']} device"
    lines = [
        f"# Profile: {b['model']} ({b['format']} {b['quant']}, target {b['target']})",
        "",
        f"Measured on {where} ({d['cpu']}, {s['threads'] or 'all'} threads), {s['runs']} runs, "
        f"prompt {s['prompt_len']} tokens, answer {s['gen_len']} tokens.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in markdown_rows(profile)]
    lines += ["", f"Energy is **{e['kind']}**: {e['method']}. Source: {e['source']}.", ""]
    if not e.get("meaningful", True):
        lines += ["**The energy figures above are MEANINGLESS for this run** (see the warnings below).", ""]
    lines += [f"- WARNING: {w}" for w in e.get("warnings", [])] + ([""] if e.get("warnings") else [])
    lines += prediction_lines(profile.get("prediction"))
    if profile["operators"]:
        lines += operator_lines(profile)
    return "\n".join(lines)


def operator_lines(profile: dict) -> list[str]:
    """The per-operator table: onnxruntime's profiler, or ExecuTorch's ETDump (with where each op ran)."""
    about, ops = profile.get("operators_about") or {}, profile["operators"]
    lines = [f"## Top operators ({about.get('profiler', 'onnxruntime profiler, all runs')})", ""]
    where = any("delegated" in o for o in ops)
    if where and "delegated_ms" in about:
        lines += [f"XNNPACK-delegated ops {about['delegated_ms']:.1f} ms, ExecuTorch's own kernels "
                  f"{about['portable_ms']:.1f} ms, dispatch overhead {about['overhead_ms']:.1f} ms, over "
                  f"{about['forward_calls']} forward calls (an ETDump pass after the timed runs).", ""]
    lines += ["| op | where | ms | calls | share |", "|---|---|---:|---:|---:|"] if where else \
        ["| op | ms | calls | share |", "|---|---:|---:|---:|"]
    for o in ops:
        cell = f" {'XNNPACK' if o.get('delegated') else 'portable'} |" if where else ""
        lines.append(f"| {o['op']} |{cell} {o['ms']:.1f} | {o['calls']} | {100 * o['share']:.1f} % |")
    return lines + [""]


def prediction_lines(pred: dict | None) -> list[str]:
    """`plan`'s prediction for this machine next to the measurement (calibration.prediction_for)."""
    if not pred:
        return []
    if "skipped" in pred:
        return [f"Plan's prediction: {pred['skipped']}.", ""]
    p, m = pred["predicted"], pred["measured"]
    ttft = (f"| TTFT s | {p['ttft_s']:.3f} | {m['ttft_s']:.3f} | {pred['ttft_measured_over_predicted']:.2f} | "
            f"prefill_compute_efficiency {pred['constants']['prefill_compute_efficiency']} -> "
            f"{pred['implied_prefill_compute_efficiency']} |") if p["ttft_s"] else "| TTFT s | - | - | - | - |"
    lines = [f"## Plan's prediction vs this measurement (target {pred['target']}, {pred['format']} {pred['quant']})",
             "", "| figure | predicted | measured | measured / predicted | constant now -> implied |",
             "|---|---:|---:|---:|---|",
             f"| decode tok/s | {p['decode_tok_s']:.1f} | {m['decode_tok_s']:.1f} | "
             f"{pred['decode_measured_over_predicted']:.2f} | decode_bandwidth_efficiency "
             f"{pred['constants']['decode_bandwidth_efficiency']} -> {pred['implied_decode_bandwidth_efficiency']} |",
             ttft, ""]
    if pred.get("note"):
        lines += [f"Note: {pred['note']}.", ""]
    return lines


REPORT_FILES = ("profile.json", "profile.md", "profile.html")


def is_profile_report(path: Path) -> bool:
    """Whether a report file was written by edgeslm (its profile.json carries the profile's schema), so a run may
    replace it; anything else of the same name is the user's."""
    import json

    try:
        profile = json.loads((path.parent / "profile.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(profile, dict) and isinstance(profile.get("schema_version"), int) and "settings" in profile \
        and "bundle" in profile


def write_reports(folder: Path, profile: dict) -> list[Path]:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.json").write_text(json.dumps(profile, indent=2) + "\n")
    (folder / "profile.md").write_text(markdown(profile))
    from edgeslm.profile.html import render

    (folder / "profile.html").write_text(render(profile))
    return [folder / "profile.json", folder / "profile.md", folder / "profile.html"]
