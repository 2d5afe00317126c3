"""`edgeslm profile` on the host: a worker process measures, energy is labelled, reports are written."""

import json
import shutil

from edgeslm.profile import energy
from test_cli_bad_input import USER, assert_error, edgeslm


def test_profile_writes_reports_with_labelled_energy(exported, tmp_path):
    bundle = exported("llama", "int4").bundle
    out = tmp_path / "prof"
    result = edgeslm("--json", "profile", str(bundle), "--runs", "2", "--warmup", "0", "--prompt-len", "16",
                     "--gen-len", "8", "--threads", "1", "--grid-intensity", "400", "--ops", "-o", str(out))
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)["profile"]
    assert profile["schema_version"] == 1 and profile["settings"]["runs"] == 2
    assert len(profile["decode_latency_ms_per_token"]) == 8
    assert profile["decode_tok_per_s"]["mean"] > 0 and profile["time_to_first_token_s"]["mean"] > 0
    assert 0 < profile["peak_rss_mb"] < 4000
    e = profile["energy"]
    assert e["kind"] in ("measured", "estimated") and e["method"] and e["source"]
    if not energy.rapl_domains():
        assert e["kind"] == "estimated" and "no readable energy counter" in e["source"]
    assert e["co2e_g_per_answer"] == e["j_per_answer"] / 3.6e6 * 400
    ops = {o["op"]: o for o in profile["operators"]}
    assert {"GroupQueryAttention", "MatMulNBits"} <= set(ops) and ops["GroupQueryAttention"]["calls"] > 0
    assert json.loads((out / "profile.json").read_text()) == profile
    assert e["kind"] in (out / "profile.md").read_text()
    # Speed beside what the bundle answers: verify's agreement with the float model, from its manifest.
    manifest = json.loads((bundle / "manifest.json").read_text())
    accuracy = profile["bundle"]["accuracy"]
    assert accuracy["verify"]["prompt_top1"] == manifest["verify"]["metrics"]["prompt_top1"]
    assert "clinical" not in accuracy  # exported without --clinical
    assert "agreement with the float model (verify)" in (out / "profile.md").read_text()


def test_profile_rows_show_the_clinical_agreement():
    from edgeslm.profile.summary import accuracy_of, markdown_rows

    manifest = {"verify": {"metrics": {"prompt_top1": 0.96, "decode_top1": 0.94, "sqnr_db": 26.9}},
                "clinical": {"passed": True, "metrics": {"agreement": 0.975, "agreement_ci95": [0.87, 0.996],
                                                         "questions": 40}}}
    profile = {"bundle": {"size_mb": 80.0, "accuracy": accuracy_of(manifest)}, "load_s": 0.5,
               "time_to_first_token_s": {"mean": 0.1, "sd": 0.0}, "prefill_tok_per_s": {"mean": 100.0, "sd": 1.0},
               "decode_tok_per_s": {"mean": 20.0, "sd": 1.0}, "peak_rss_mb": 500.0,
               "energy": {"kind": "estimated", "j_per_answer": 1.0, "decode_j_per_token": 0.01, "tokens_per_j": 100.0,
                          "co2e_g_per_answer": None}}
    rows = dict(markdown_rows(profile))
    assert rows["clinical answer agreement"] == "0.975 (95% CI 0.870-0.996) over 40 questions, within budget"
    assert rows["agreement with the float model (verify)"].startswith("top-1 0.960 prompts, 0.940 decode")


def test_profile_refuses_a_tampered_bundle_and_impossible_lengths(exported, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(exported("gpt2", "int8").bundle, bundle)
    assert_error(edgeslm("profile", str(bundle), "--prompt-len", "120", "--gen-len", "64"), USER, "exceed")
    (bundle / "tokenizer.json").write_text("{}")
    assert_error(edgeslm("profile", str(bundle)), USER, "does not match its manifest")


def test_rapl_counters_are_read_when_present(tmp_path):
    (tmp_path / "intel-rapl:0").mkdir()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("1500000\n")
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-domain: inside the package figure, not added again
    (tmp_path / "intel-rapl:0:0" / "energy_uj").write_text("900000\n")
    counters = energy.rapl_domains(tmp_path)
    assert [c.parent.name for c in counters] == ["intel-rapl:0"]
    assert energy.read_rapl_uj(counters) == 1500000
    report = energy.measured(10.0, prefill_share=0.2, prompt_len=100, gen_len=50, answers=2)
    assert report.kind == "measured" and report.j_per_answer == 5.0
    assert abs(report.prefill_j_per_token - 0.01) < 1e-12 and abs(report.decode_j_per_token - 0.08) < 1e-12
