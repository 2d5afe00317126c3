"""The streaming ExecuTorch export (big models): quantized layer by layer while loading, the same program as the
in-memory export, and a lowering-exactness check with teeth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeslm.errors import UnsupportedError, UserError
from edgeslm.pipeline.config import ExportConfig
from edgeslm.pipeline.export import run_export
from edgeslm.pipeline.progress import StageLog


@pytest.fixture(scope="module")
def streamed(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("stream-et") / "bundle"
    cfg = ExportConfig(output=out, target="android", format="executorch", model=str(tiny_model_dir("llama")),
                       quant="int4", max_seq_len=128, stream=True)
    return run_export(cfg, StageLog(quiet=True))


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
    from transformers import AutoConfig, AutoTokenizer

    from edgeslm.archs import ARCHS
    from edgeslm.backends import BACKENDS
    from edgeslm.model.skeleton import skeleton
    from edgeslm.pipeline.stream_export import two_part_verify
    from edgeslm.quant import get_scheme
    from edgeslm.sources.lazy_weights import canonical_lazy_weights

    folder = tiny_model_dir("llama")
    config = AutoConfig.from_pretrained(folder)
    backend = BACKENDS.get("executorch")
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def check_with(skel):
        check = backend.lowering_check(skel, get_scheme("int4"), streamed.bundle)
        def runner():
            return backend.runner(streamed.bundle, streamed.manifest["io"], 1)
        return two_part_verify(skel, tokenizer, runner, check, "int4", 4, 128, 1).section["lowering_exactness"]

    skel = skeleton(config, canonical_lazy_weights(ARCHS.get("llama"), config, folder), 128)
    right = check_with(skel)
    flipped = skel.values["layers.1.o_proj.weight_t"]
    skel.values["layers.1.o_proj.weight_t"] = lambda: -flipped()
    wrong = check_with(skel)
    assert right["passed"] and not wrong["passed"]
    assert wrong["metrics"]["sqnr_db"] < right["metrics"]["sqnr_db"] - 15


def test_stream_refuses_what_cannot_stream(tiny_model_dir, tmp_path):
    model = str(tiny_model_dir("llama"))
    with pytest.raises(UnsupportedError, match="fp32 ExecuTorch program holds every float weight"):
        ExportConfig(output=tmp_path / "o", target="linux", format="executorch", model=model, quant="fp32",
                     stream=True)
    with pytest.raises(UnsupportedError, match="fp16 Core ML package stores every weight as float"):
        ExportConfig(output=tmp_path / "o", target="ios", format="coreml", model=model, quant="fp16", stream=True)
