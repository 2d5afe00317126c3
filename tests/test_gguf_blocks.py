"""The backend-neutral GGUF block decoding (edgeslm.sources.gguf_blocks), checked against the gguf package's own
dequantize, and the one carry rule every backend reads."""

from __future__ import annotations

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import quants  # noqa: E402

from edgeslm.sources.gguf_blocks import carry_decision, decode_blocks, grid_not_carried  # noqa: E402
from edgeslm.sources.gguf_names import llama_unpermute_index  # noqa: E402


@pytest.mark.parametrize("qtype,bits,zero", [(QT.Q4_0, 4, 8), (QT.Q4_1, 4, 0), (QT.Q8_0, 8, 128)])
def test_blocks_dequantize_like_gguf(qtype, bits, zero):
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((16, 96)).astype(np.float32)
    weights[2, 32:64] = 0.25  # a constant block: Q4_1 stores it with d == 0
    raw = quants.quantize(weights, qtype)
    blocks = decode_blocks(raw, qtype)
    assert (blocks.bits, blocks.zero_point, blocks.N, blocks.K, blocks.k_blocks) == (bits, zero, 16, 96, 3)
    assert int(blocks.q.max()) < 2 ** bits and (blocks.offset is not None) == (qtype == QT.Q4_1)
    np.testing.assert_array_equal(blocks.dequantize(), quants.dequantize(raw, qtype))
    with pytest.raises(ValueError):
        blocks.q[0, 0] = 1  # shared arrays are read-only


def test_rows_are_permuted_exactly():
    raw = quants.quantize(np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32), QT.Q4_1)
    idx = llama_unpermute_index(64, 4)
    np.testing.assert_array_equal(decode_blocks(raw, QT.Q4_1, rows=idx).dequantize(),
                                  quants.dequantize(raw, QT.Q4_1)[idx])


def test_carry_decision_is_one_rule():
    assert carry_decision("Q4_1", 4).kind == "carry"
    assert (carry_decision("Q8_0", 4).kind, carry_decision("Q8_0", 4).bits) == ("wider", 8)
    assert carry_decision("Q8_0", 8).kind == "carry"
    assert carry_decision("Q5_0", 4).kind == "none" and "Q5_0" in carry_decision("Q5_0", 4).reason
    assert "nothing to carry" in carry_decision("F16", 4).reason
    assert grid_not_carried("int4", "llama") is None
    assert "qwen2" in grid_not_carried("int4", "qwen2") and "int8" in grid_not_carried("int8", "llama")
