"""The clinical gate end to end on a tiny model: a faithful bundle passes with its figures in the manifest; a
bundle whose weights drifted after export fails `verify --clinical` naming the flipped questions."""

import json
import shutil
import string

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgeslm.bundle.manifest import sha256
from cli_runner import edgeslm
from test_cli_bad_input import VERIFY

N = "4"  # questions per set: 16 in all, seconds on a tiny model


@pytest.fixture(scope="module")
def lettered_model(tmp_path_factory):
    """A tiny llama whose tokenizer knows the answer letters A-D (the shared tiny tokenizer is lowercase)."""
    import tiny
    from edgeslm.archs import ARCHS

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tiny, "ALPHABET", tiny.ALPHABET + string.ascii_uppercase)
        return tiny.save_tiny_model(ARCHS.get("llama").tiny_config(), tmp_path_factory.mktemp("lettered"),
                                    train_steps=60)


@pytest.fixture(scope="module")
def clinical_bundle(lettered_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("clinical") / "b"
    result = edgeslm("export", "--model", str(lettered_model), "--target", "linux", "--quant", "fp32",
                     "--max-seq-len", "128", "--clinical-n", N, "-o", str(out))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_export_clinical_records_the_figures(clinical_bundle):
    out, output = clinical_bundle
    assert "Clinical (PASS, pack v1, 16 questions, host onnx): answer agreement 1.000" in output
    clinical = json.loads((out / "manifest.json").read_text())["clinical"]
    assert clinical["passed"] and clinical["per_set"] == 4 and set(clinical["by_set"]) == {
        "medqa", "medmcqa", "pubmedqa", "mmlu"}
    m = clinical["metrics"]
    assert m["questions"] == 16 and m["agreement"] == 1.0 and m["max_prob_change"] < 1e-4
    assert m["agreement_ci95"][0] == pytest.approx(0.806, abs=1e-3)  # Wilson lower bound of 16/16
    assert clinical["perplexity"]["ratio"] == pytest.approx(1.0, abs=1e-4)
    assert clinical["budget"]["min_agreement"] == 0.99


def _perturb(bundle, dest, scale):
    """Noise on every float initializer of the ONNX model (hashes updated: only the numbers can tell)."""
    shutil.copytree(bundle, dest)
    model = onnx.load(str(dest / "model.onnx"))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype == np.float32 and w.ndim == 2:
            noisy = w + rng.normal(0, scale * float(w.std()), w.shape).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    for stale in dest.glob("model.onnx*"):
        stale.unlink()
    onnx.save(model, str(dest / "model.onnx"), save_as_external_data=True, location="model.onnx.data")
    manifest = json.loads((dest / "manifest.json").read_text())
    for record in manifest["files"]:
        record["sha256"] = sha256(dest / record["name"])
    (dest / "manifest.json").write_text(json.dumps(manifest))


def test_a_drifted_bundle_fails_the_clinical_gate_naming_the_flipped_questions(clinical_bundle, tmp_path):
    out, _ = clinical_bundle
    _perturb(out, tmp_path / "drifted", 1.0)
    result = edgeslm("verify", str(tmp_path / "drifted"), "--clinical-n", N)
    assert result.exit_code == VERIFY, result.output
    assert "Clinical (FAIL" in result.output
    flips = [line for line in result.output.splitlines() if "clinical" in line and "flipped: " in line]
    assert flips and any(f"{s}/" in flips[0] for s in ("medqa", "medmcqa", "pubmedqa", "mmlu")), result.output
    assert "(95% CI" in flips[0]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_compare_renders_the_parity_matrix(clinical_bundle, tmp_path):
    out, _ = clinical_bundle
    _perturb(out, tmp_path / "drifted", 1.0)
    page = tmp_path / "parity.html"
    result = edgeslm("--json", "compare", str(out), str(tmp_path / "drifted"), "--clinical-n", N,
                      "--html", str(page))
    assert result.exit_code == 0, result.output
    # progress bars share the CliRunner's output; the JSON document starts at its own key
    table = json.JSONDecoder().raw_decode(result.output[result.output.index('{"ok"'):])[0]
    good, drifted = table["rows"]
    assert good["name"] == "onnx fp32" and good["answer_agreement"] == 1.0 and good["prompt_top1"] == 1.0
    assert drifted["answer_agreement"] < 1.0 and drifted["sqnr_db"] < good["sqnr_db"] - 20
    matrix = table["agreement_matrix"]
    assert [matrix[i][i] for i in range(3)] == [1.0, 1.0, 1.0] and matrix[0][1] == 1.0
    assert matrix[0][2] == matrix[2][0] == drifted["answer_agreement"]
    html = page.read_text()
    assert html.count('class="cell"') == 9 and "http" not in html
    if CHROMIUM:  # the heat map lays out in a real browser (Debian's chromium, as the profile page)
        import subprocess

        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
             "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
        assert 'data-rendered="9"' in dom, dom[:500]

    text = edgeslm("compare", str(out), str(tmp_path / "drifted"), "--clinical-n", "1")
    assert text.exit_code == 0 and "pairwise answer agreement" in text.output and "onnx fp32" in text.output


def test_compare_refuses_bundles_of_different_sources(clinical_bundle, exported):
    out, _ = clinical_bundle
    result = edgeslm("compare", str(out), str(exported("llama", "fp32").bundle))
    assert result.exit_code == 2 and "not exported from one source" in result.output


def test_an_int4_export_that_flips_answers_is_refused_and_publishes_nothing(lettered_model, tmp_path):
    """The tiny model at int4 passes the logit gate (random-ish tiny models get its loose floor) but flips
    clinical answers (measured 0.875 agreement on 40 questions): the export fails, naming them."""
    from test_cli_bad_input import assert_error, leftovers

    result = edgeslm("export", "--model", str(lettered_model), "--target", "linux", "--quant", "int4",
                     "--max-seq-len", "128", "--clinical-n", "10", "-o", str(tmp_path / "o"))
    assert_error(result, VERIFY, "clinical answer agreement", "flipped: ", "No bundle was written")
    assert not (tmp_path / "o").exists() and not leftovers(tmp_path)
