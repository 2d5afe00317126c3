"""The fused attention kernels against the plain-PyTorch reference (kernels/reference.py)."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch.nn import functional as F

from edgeslm.kernels.onnx_gqa import TRANSLATIONS, OnnxGQAKernel, fused_rotary_unsupported
from edgeslm.kernels.reference import AttentionParams, apply_rotary, reference_attention


def _tables(positions: int, half: int):
    inv = 1.0 / (10000 ** (torch.arange(half).float() / half))
    freqs = torch.outer(torch.arange(positions).float(), inv)
    return freqs.cos(), freqs.sin()


def test_reference_matches_torch_sdpa_with_gqa_and_cache():
    torch.manual_seed(0)
    p = AttentionParams(heads=4, kv_heads=2, head_dim=16, scale=16 ** -0.5, rotary=False)
    q, k, v = torch.randn(1, 5, 64), torch.randn(1, 5, 32), torch.randn(1, 5, 32)
    past_k, past_v = torch.randn(1, 2, 3, 16), torch.randn(1, 2, 3, 16)
    out, present_k, _ = reference_attention(q, k, v, past_k, past_v, None, None, p)
    keys = torch.cat([past_k, k.view(1, 5, 2, 16).transpose(1, 2)], 2).repeat_interleave(2, 1)
    values = torch.cat([past_v, v.view(1, 5, 2, 16).transpose(1, 2)], 2).repeat_interleave(2, 1)
    mask = torch.ones(5, 8, dtype=torch.bool).tril(diagonal=3)
    want = F.scaled_dot_product_attention(q.view(1, 5, 4, 16).transpose(1, 2), keys, values, attn_mask=mask)
    assert torch.allclose(out, want.transpose(1, 2).reshape(1, 5, 64), atol=1e-5)
    assert present_k.shape == (1, 2, 8, 16)


def test_sliding_window_hides_keys_beyond_the_window():
    p = AttentionParams(heads=1, kv_heads=1, head_dim=4, scale=0.5, window=3, rotary=False)
    v = torch.arange(10, dtype=torch.float32).repeat_interleave(4).view(1, 10, 4)
    q = torch.zeros(1, 10, 4)  # equal scores: the output is the mean of the visible values
    empty = torch.zeros(1, 1, 0, 4)
    out, _, _ = reference_attention(q, torch.zeros(1, 10, 4), v, empty, empty, None, None, p)
    assert out[0, 9, 0].item() == pytest.approx((7 + 8 + 9) / 3)


def test_partial_rotary_leaves_the_tail_untouched():
    x = torch.randn(1, 2, 5, 16)
    cos, sin = _tables(5, 4)  # rotary_dim 8 of head_dim 16
    y = apply_rotary(x, cos, sin)
    assert torch.equal(y[..., 8:], x[..., 8:])
    assert not torch.allclose(y[..., :8], x[..., :8])


class _OneLayer(torch.nn.Module):
    def __init__(self, p: AttentionParams, cos, sin):
        super().__init__()
        self.p, self.kernel = p, OnnxGQAKernel()
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, q, k, v, mask, past_k, past_v):
        cos, sin = (self.cos, self.sin) if self.p.rotary else (None, None)
        return self.kernel(q, k, v, past_k, past_v, mask, cos, sin, self.p)


@pytest.mark.parametrize("heads,kv_heads,head_dim,rotary_half,window", [
    (4, 2, 16, 8, 0),  # GQA, full rotary, fused
    (4, 4, 32, 8, 0),  # MHA, partial rotary (16 of 32), fused
    (4, 2, 16, 4, 0),  # rotary too narrow for the fused op: falls back to rotary outside
    (4, 1, 16, 8, 4),  # MQA with a sliding window
    (2, 2, 16, 0, 0),  # no rope (gpt2 / biogpt)
], ids=["gqa", "partial-rotary", "rotary-fallback", "mqa-window", "no-rope"])
def test_onnx_gqa_matches_reference_prefill_and_decode(tmp_path, heads, kv_heads, head_dim, rotary_half, window):
    torch.manual_seed(0)
    p = AttentionParams(heads, kv_heads, head_dim, head_dim ** -0.5, window, rotary=rotary_half > 0)
    cos, sin = _tables(64, max(rotary_half, 1))
    layer = _OneLayer(p, cos, sin).eval()
    q, k, v = (torch.randn(1, 6, n * head_dim) for n in (heads, kv_heads, kv_heads))
    empty = torch.zeros(1, kv_heads, 0, head_dim)
    past = torch.randn(1, kv_heads, 2, head_dim)  # example sizes all distinct: S=6, P=2, T=8
    dims = ({1: torch.export.Dim("s")},) * 3 + ({1: torch.export.Dim("t")},) + ({2: torch.export.Dim("p")},) * 2
    program = torch.onnx.export(layer, (q, k, v, torch.ones(1, 8, dtype=torch.long), past, past.clone()), dynamo=True,
                                dynamic_shapes=dims, custom_translation_table=TRANSLATIONS, opset_version=21,
                                input_names=["q", "k", "v", "mask", "pk", "pv"], output_names=["o", "ck", "cv"])
    program.save(tmp_path / "attn.onnx")
    ops = [n.op_type for n in program.model_proto.graph.node]
    assert ops.count("GroupQueryAttention") == 1
    assert bool(layer.kernel.fallbacks) == (rotary_half == 4)
    sess = ort.InferenceSession(str(tmp_path / "attn.onnx"), providers=["CPUExecutionProvider"])
    # prefill 6 tokens, then one decode step on the returned cache
    feeds = {"q": q.numpy(), "k": k.numpy(), "v": v.numpy(), "mask": np.ones((1, 6), np.int64),
             "pk": empty.numpy(), "pv": empty.numpy()}
    got = sess.run(None, feeds)
    with torch.no_grad():
        want = OnnxGQAKernel()(q, k, v, empty, empty, torch.ones(1, 6, dtype=torch.long),
                                        *((cos, sin) if p.rotary else (None, None)), p)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=2e-5)
    q1, k1, v1 = (torch.randn(1, 1, n * head_dim) for n in (heads, kv_heads, kv_heads))
    got1 = sess.run(None, {"q": q1.numpy(), "k": k1.numpy(), "v": v1.numpy(), "mask": np.ones((1, 7), np.int64),
                           "pk": got[1], "pv": got[2]})
    with torch.no_grad():
        want1 = OnnxGQAKernel()(q1, k1, v1, want[1], want[2], torch.ones(1, 7, dtype=torch.long),
                                *((cos, sin) if p.rotary else (None, None)), p)
    for g, w in zip(got1, want1):
        np.testing.assert_allclose(g, w.numpy(), atol=2e-5)


def test_fused_rotary_rule():
    assert fused_rotary_unsupported(8, 16) is None
    assert "multiple of 8" in fused_rotary_unsupported(4, 16)
