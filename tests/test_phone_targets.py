"""The phone targets by RAM class (android-4gb, android-12gb, android-16gb, iphone-8gb): where each seed model of
the catalog fits at int4, from `edgeslm plan` (config facts and target figures only; offline, fast)."""

from __future__ import annotations

import json

import pytest

from cli_runner import edgeslm
from edgeslm.plan import make_plan
from edgeslm.targets import get_target

PHONES = ("android-4gb", "android", "android-12gb", "android-16gb", "ios", "iphone-8gb")
# int4 at the default 2048 positions, on the target's default format. The RAM classes order the phones; each
# line is a deployment question the survey's models raise (issue #11).
FITS = {
    "smollm2-135m": {"android-4gb", "android", "android-12gb", "android-16gb", "ios", "iphone-8gb"},
    "biomedlm": {"android", "android-12gb", "android-16gb", "ios", "iphone-8gb"},  # 2.7B
    "medmobile": {"android-12gb", "android-16gb", "iphone-8gb"},  # phi3 3.8B, built to run on phones
    "medgemma-4b": {"android-12gb", "android-16gb", "iphone-8gb"},
    "biomistral-7b": {"android-12gb", "android-16gb", "iphone-8gb"},  # GQA: 8 KV heads keep its cache small
    "meditron-7b": {"android-16gb"},  # llama-2 7B: 32 KV heads, 1 GiB of fp32 cache at 2048 positions
}


def _fits(model: str, target: str) -> bool:
    plan = make_plan(model, target, 2048)
    row = next(r for r in plan.rows if r.quant == "int4" and r.format == get_target(target).default_format)
    return row.fits


@pytest.mark.parametrize("model", sorted(FITS))
def test_where_each_seed_model_fits_at_int4(model):
    assert {t for t in PHONES if _fits(model, t)} == FITS[model]


def test_ram_classes_are_ordered():
    android = [get_target(t) for t in ("android-4gb", "android", "android-12gb", "android-16gb")]
    assert [t.available_mb for t in android] == sorted(t.available_mb for t in android)
    assert get_target("android-4gb").mem_bandwidth_gbs < get_target("android").mem_bandwidth_gbs
    assert get_target("iphone-8gb").available_mb > get_target("ios").available_mb
    for name in PHONES:
        assert get_target(name).runner in ("adb", "xcrun")


def test_plan_cli_names_the_phone():
    result = edgeslm("--json", "plan", "--model", "medmobile", "--target", "android-12gb")
    plan = json.loads(result.stdout)
    plan = plan.get("plan", plan)
    assert any(r["format"] == "onnx" and r["quant"] == "int4" and r["fits"] for r in plan["rows"])
