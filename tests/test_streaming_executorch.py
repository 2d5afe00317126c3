"""The streaming ExecuTorch export (big models): quantized layer by layer while loading, the same program as the
in-memory export, and a lowering-exactness check with teeth."""

from __future__ import annotations

import pytest

from edgeslm.errors import UnsupportedError
from edgeslm.pipeline.config import ExportConfig

from stream_helpers import lowering_exactness_right_and_wrong, streamed_export


@pytest.fixture(scope="module")
def streamed(tiny_model_dir, tmp_path_factory):
    return streamed_export(tiny_model_dir("llama"), tmp_path_factory.mktemp("stream-et") / "bundle", "android", "executorch")


def test_streamed_program_is_the_in_memory_program_byte_for_byte(streamed, exported):
    in_memory = exported("llama", "int4", target="android", fmt="executorch")
    assert (streamed.bundle / "model.pte").read_bytes() == (in_memory.bundle / "model.pte").read_bytes()
    assert streamed.manifest["quant"]["native"]["streamed"] is True
    assert streamed.manifest["fallbacks"] == in_memory.manifest["fallbacks"]


def test_streamed_verify_has_both_parts(streamed):
    verify = streamed.manifest["verify"]
    exact = verify["lowering_exactness"]
    assert exact["passed"] and verify["quantization_drift"]["passed"]
    assert exact["metrics"]["sqnr_db"] >= exact["tolerance"]["min_sqnr_db"]
    assert "XNNPACK" in exact["runtime"] and verify["runtime"] == "host executorch"
    # No separate float-arithmetic run of the bundle exists for ExecuTorch: nothing recorded as if there were.
    assert "runtime_arithmetic" not in verify


def test_lowering_check_catches_a_wrong_weight(streamed, tiny_model_dir):
    """Re-quantized from a source with one projection negated, the reference no longer matches the program."""
    right, wrong = lowering_exactness_right_and_wrong("executorch", streamed, tiny_model_dir("llama"))
    assert right["passed"] and not wrong["passed"]
    assert wrong["metrics"]["sqnr_db"] < right["metrics"]["sqnr_db"] - 15


def test_stream_refuses_what_cannot_stream(tiny_model_dir, tmp_path):
    model = str(tiny_model_dir("llama"))
    with pytest.raises(UnsupportedError, match="ExecuTorch programs in fp32 hold every float weight"):
        ExportConfig(output=tmp_path / "o", target="linux", format="executorch", model=model, quant="fp32",
                     stream=True)
    with pytest.raises(UnsupportedError, match="Core ML packages in fp16 store every weight as float"):
        ExportConfig(output=tmp_path / "o", target="ios", format="coreml", model=model, quant="fp16", stream=True)
