"""profile.html renders its plots in a real browser (headless Chromium, Debian's `chromium` package)."""

import re
import shutil
import subprocess

import pytest

from test_cli_bad_input import edgeslm

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_profile_html_is_self_contained(exported, tmp_path):
    out = tmp_path / "prof"
    result = edgeslm("--json", "profile", str(exported("qwen2", "int4").bundle), "--sustained", "4",
                     "--prompt-len", "12", "--gen-len", "6", "--ops", "-o", str(out))
    assert result.exit_code == 0, result.output
    import json

    profile = json.loads(result.output)["profile"]
    assert profile["settings"]["runs"] == 4 and len(profile["per_answer"]) == 4
    total = sum(a["j"] for a in profile["per_answer"])
    assert abs(total / 4 - profile["energy"]["j_per_answer"]) < 1e-6 * total  # per-answer energy adds up
    page = (out / "profile.html").read_text()
    assert page.count("<svg") == 5  # latency, throughput + memory, sustained, energy, operators
    assert "estimated" in page or "measured" in page
    assert not re.search(r"(src|href)=\"https?://", page)  # nothing fetched from the network


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_profile_html_plots_render_in_chromium(exported, tmp_path):
    out = tmp_path / "prof"
    result = edgeslm("profile", str(exported("qwen2", "int4").bundle), "--runs", "1", "--warmup", "0",
                     "--prompt-len", "12", "--gen-len", "6", "-o", str(out))
    assert result.exit_code == 0, result.output
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
         "--virtual-time-budget=5000", "--dump-dom", (out / "profile.html").as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    # The page's own script counts the figures laid out with a real size and at least one drawn path.
    assert 'data-rendered="3"' in dom, dom[:500]


def test_report_compares_profiled_bundles(exported, tmp_path):
    import json

    from test_cli_bad_input import USER, assert_error

    bundles = []
    for quant in ("int4", "int8"):
        bundle = exported("llama", quant).bundle
        out = tmp_path / f"{quant}.profile"
        assert edgeslm("profile", str(bundle), "--runs", "1", "--warmup", "0", "--prompt-len", "8", "--gen-len", "4",
                       "-o", str(out)).exit_code == 0
        bundles.append(out)
    result = edgeslm("--json", "report", *map(str, bundles), "--html", str(tmp_path / "cmp.html"))
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)
    assert [r["quant"] for r in table] == ["int4", "int8"]
    assert table[0]["size MiB"] < table[1]["size MiB"]  # int4 bundles are smaller than int8 ones
    assert (tmp_path / "cmp.html").read_text().count("<svg") == 4
    assert_error(edgeslm("report", str(tmp_path / "nothing")), USER, "no profile for")
