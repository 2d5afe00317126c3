"""`edgeslm verify` of a Core ML bundle off macOS re-runs export's host checks (trace, structure, package,
stored weights against the reloaded float source) and names the check that needs a Mac."""

import subprocess
import sys

import pytest

pytest.importorskip("coremltools")


def test_verify_reruns_the_host_checks(exported):
    from edgeslm.verify.rerun import reverify

    result = exported("llama", "int4", target="ios")  # shared with test_coreml_backend
    out = reverify(result.bundle)
    assert out["passed"], out["failures"]
    ran = {c["name"]: c for c in out["checks_run"]}
    assert {"trace", "structure", "package", "stored_weights"} <= set(ran)
    assert all(c["passed"] for c in ran.values())
    assert ran["trace"]["metrics"]["max_abs_logit"] < 1e-4
    # the same weights read back from the same package against the same source: export's numbers again
    exported_check = next(c for c in result.manifest["verify"]["checks_run"] if c["name"] == "stored_weights")
    assert ran["stored_weights"]["metrics"]["sqnr_db"] == pytest.approx(exported_check["metrics"]["sqnr_db"], abs=1e-3)
    if sys.platform != "darwin":
        assert [c["name"] for c in out["checks_not_run"]] == ["coreml_predict"]
        assert "needs macOS" in out["checks_not_run"][0]["reason"]


def test_verify_cli_names_the_checks(exported):
    result = exported("llama", "int4", target="ios")
    proc = subprocess.run([sys.executable, "-m", "edgeslm", "verify", str(result.bundle)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PASS" in proc.stdout and "check stored_weights: passed" in proc.stdout
    if sys.platform != "darwin":
        assert "check coreml_predict not run: needs macOS" in proc.stdout
