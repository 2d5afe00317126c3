"""Plan's prediction next to a profile's measurement, and the efficiency constants the measurement implies.

`plan` predicts decode tok/s = bandwidth x DECODE_BANDWIDTH_EFFICIENCY / bytes per token and TTFT = FLOPs /
(peak x PREFILL_COMPUTE_EFFICIENCY). Both are linear in their constant, so one measurement gives the constant that
would have predicted it exactly: implied = constant x measured / predicted (decode), constant x predicted /
measured (TTFT). `profile` stores this comparison in profile.json ("prediction"); `plan --calibrate PROFILE.json`
prints it. The constants in plan.py change only by hand, with the measurements behind them in a comment.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.errors import UserError

# Where a profile ran -> the target whose figures (bandwidth, peak FLOP/s) describe that machine.
RUN_TARGET = {"host": "linux", "android": "android", "ios": "ios"}


def model_ref(manifest: dict) -> str | None:
    """What `plan --model` needs to find the bundle's model again: catalog id, else the local source path."""
    source = manifest.get("source", {})
    if source.get("kind") == "default":
        return None  # the embedded default: plan's own default
    return source.get("catalog_id") or source.get("path") or source.get("hub_id")


def compare(plan_row, plan, profile: dict) -> dict:
    """Predicted vs measured for one plan row and one profile; ratios are measured / predicted."""
    from edgeslm.plan import DECODE_BANDWIDTH_EFFICIENCY, PREFILL_COMPUTE_EFFICIENCY

    measured_tok_s = profile["decode_tok_per_s"]["mean"]
    measured_ttft = profile["time_to_first_token_s"]["mean"]
    out = {
        "target": plan.target, "format": plan_row.format, "quant": plan_row.quant,
        "prompt_len": plan.prompt_len, "gen_len": plan.gen_len,
        "predicted": {"decode_tok_s": plan_row.decode_tok_s, "ttft_s": plan_row.ttft_s},
        "measured": {"decode_tok_s": round(measured_tok_s, 2), "ttft_s": round(measured_ttft, 4)},
        "constants": {"decode_bandwidth_efficiency": DECODE_BANDWIDTH_EFFICIENCY,
                      "prefill_compute_efficiency": PREFILL_COMPUTE_EFFICIENCY},
        "decode_measured_over_predicted": round(measured_tok_s / plan_row.decode_tok_s, 3),
        "implied_decode_bandwidth_efficiency": round(DECODE_BANDWIDTH_EFFICIENCY * measured_tok_s
                                                     / plan_row.decode_tok_s, 4),
        "ttft_measured_over_predicted": None, "implied_prefill_compute_efficiency": None,
    }
    if plan_row.ttft_s:
        out["ttft_measured_over_predicted"] = round(measured_ttft / plan_row.ttft_s, 3)
        out["implied_prefill_compute_efficiency"] = round(PREFILL_COMPUTE_EFFICIENCY * plan_row.ttft_s
                                                          / measured_ttft, 4)
    return out


def _row(plan, fmt: str, quant: str):
    rows = [r for r in plan.rows if (r.format, r.quant) == (fmt, quant)]
    if not rows:
        raise UserError(f"plan has no {fmt} {quant} row for target {plan.target}",
                        hint="The profile's format and quant must be one the target lists (`edgeslm list targets`).")
    return rows[0]


def prediction_for(profile: dict, manifest: dict) -> dict:
    """The plan's prediction for the machine a profile ran on, next to the measurement (stored in profile.json)."""
    from edgeslm.plan import make_plan

    where = profile["device"]["where"]
    target = RUN_TARGET.get(where)
    if target is None:
        return {"skipped": f"no plan target describes a run on {where!r}"}
    s = profile["settings"]
    try:
        plan = make_plan(model_ref(manifest), target, manifest["generation"]["max_positions"], s["prompt_len"],
                         s["gen_len"])
        result = compare(_row(plan, profile["bundle"]["format"], profile["bundle"]["quant"]), plan, profile)
    except UserError as exc:  # e.g. the source folder is gone: the profile stands without the prediction
        return {"skipped": f"no prediction: {exc.message}"}
    result["model"] = plan.model
    if where == "host":
        result["note"] = (f"this host stands in for target {target}: its figures (targets/{target}.toml: "
                          "bandwidth, [compute], [power]) describe a 2-vCPU VM, which may not be this machine")
    return result


def load_for_plan(path: Path) -> dict:
    path = Path(path)
    try:
        profile = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"--calibrate {path} is not a readable profile.json ({exc})",
                        hint="Pass the profile.json written by `edgeslm profile`.") from None
    for key in ("bundle", "device", "settings", "decode_tok_per_s", "time_to_first_token_s"):
        if key not in profile:
            raise UserError(f"--calibrate {path} has no {key!r}: not a profile.json",
                            hint="Pass the profile.json written by `edgeslm profile`.")
    return profile


def calibrate_plan(model: str | None, plan, profile: dict, path: Path) -> dict:
    """`plan --calibrate`: the same model on the same target, compared row for row with the measurement."""
    from edgeslm.plan import make_plan

    target = RUN_TARGET.get(profile["device"]["where"])
    if target != plan.target:
        raise UserError(f"--calibrate {path} was measured on {profile['device']['where']} (target {target}); "
                        f"this plan is for {plan.target}",
                        hint=f"Compare like with like: edgeslm plan --target {target} --calibrate {path}")
    measured_model = profile["bundle"]["model"]
    if measured_model not in (plan.model, profile.get("prediction", {}).get("model")):
        raise UserError(f"--calibrate {path} profiles {measured_model!r}; this plan is for {plan.model!r}",
                        hint="Pass the same --model the profiled bundle was exported from.")
    s = profile["settings"]
    # Predict at the profile's own lengths, so that the KV-cache and prompt terms match what was measured.
    same = plan
    if (plan.prompt_len, plan.gen_len) != (s["prompt_len"], s["gen_len"]):
        same = make_plan(model, plan.target, max(plan.max_seq_len, s["prompt_len"] + s["gen_len"]), s["prompt_len"],
                         s["gen_len"])
    return compare(_row(same, profile["bundle"]["format"], profile["bundle"]["quant"]), same, profile)
