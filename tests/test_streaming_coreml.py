"""The streaming Core ML export (big models): projections quantized layer by layer while loading by coremltools'
own function, the same package as the in-memory export, and a lowering-exactness check with teeth."""

from __future__ import annotations

import numpy as np
import pytest


from stream_helpers import lowering_exactness_right_and_wrong, streamed_export


@pytest.fixture(scope="module")
def streamed(tiny_model_dir, tmp_path_factory):
    return streamed_export(tiny_model_dir("llama"), tmp_path_factory.mktemp("stream-coreml") / "bundle", "ios", "coreml")


def test_streamed_package_is_the_in_memory_package(streamed, exported):
    """Same ops, the same stored weights bit for bit, the same declared I/O and states."""
    from edgeslm.backends.coreml.mil import load_program, op_counts, stored_weights

    in_memory = exported("llama", "int4", target="ios", fmt="coreml")
    mine, theirs = (load_program(b.bundle / "model.mlpackage") for b in (streamed, in_memory))
    assert op_counts(mine.mil) == op_counts(theirs.mil)
    assert op_counts(mine.mil)["linear"] > 0  # projections rewritten from matmul, as the in-memory program has
    a, b = stored_weights(mine.mil), stored_weights(theirs.mil)
    assert a.kinds == b.kinds and not a.float_left
    assert len(a.projections) == len(b.projections)
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a.projections, b.projections))
    assert a.embeddings.keys() == b.embeddings.keys()
    assert all(np.array_equal(a.embeddings[k], b.embeddings[k]) for k in a.embeddings)
    assert mine.spec.description == theirs.spec.description
    assert streamed.manifest["quant"]["native"]["streamed"] is True
    assert streamed.manifest["fallbacks"] == in_memory.manifest["fallbacks"]


def test_streamed_verify_has_both_parts(streamed):
    verify = streamed.manifest["verify"]
    exact = verify["lowering_exactness"]
    assert exact["passed"] and verify["quantization_drift"]["passed"]
    assert exact["metrics"]["sqnr_db"] >= exact["tolerance"]["min_sqnr_db"] >= 60  # float-exact: same weights
    assert "read back" in exact["runtime"]


def test_lowering_check_catches_a_wrong_weight(streamed, tiny_model_dir):
    """Re-quantized from a source with one projection negated, the reference no longer matches the package; and
    Core ML's runtime (absent here) is never asked for: the package's weights run in PyTorch."""

    def no_runtime():
        raise AssertionError("the Core ML runtime was asked for on a host without it")

    right, wrong = lowering_exactness_right_and_wrong("coreml", streamed, tiny_model_dir("llama"), no_runtime)
    assert right["passed"] and not wrong["passed"]
    assert wrong["metrics"]["sqnr_db"] < right["metrics"]["sqnr_db"] - 40
