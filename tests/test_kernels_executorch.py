"""The ExecuTorch static-cache kernel (llama::update_cache + llama::custom_sdpa) against the reference decoder,
eager mode: prefill + token-by-token decode past the sliding window, then again after a reset."""

import pytest
import torch

from conftest import ARCH_NAMES, tiny_decoder

pytest.importorskip("executorch.extension.llm.custom_ops.custom_ops", reason="executorch is not installed")

from edgeslm.kernels.executorch_sdpa import StaticCacheDecoder, window_mask  # noqa: E402
from edgeslm.kernels.reference import causal_mask  # noqa: E402


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_static_cache_matches_reference_prefill_and_decode(arch):
    decoder = tiny_decoder(arch)
    windows = [w for w in decoder.spec.sliding_windows if w]
    total = 30  # longer than every tiny model's window (8): the window must hold past its length
    assert not windows or total > 2 * max(windows)
    ids = torch.randint(0, decoder.spec.vocab_size, (1, total), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = decoder(ids, torch.ones(1, total, dtype=torch.long), *decoder.empty_cache())[0]  # (1, T, V)
        wrapper = StaticCacheDecoder(decoder, 64)
        for _attempt in range(2):  # the second pass re-prefills from position 0 over a used cache (reset)
            got = [wrapper(ids[:, :12], torch.tensor([0]))]
            got += [wrapper(ids[:, t: t + 1], torch.tensor([t])) for t in range(12, total)]
            assert (torch.cat(got, 1) - want).abs().max().item() < 1e-5
    assert wrapper.kernel.calls == 2 * (1 + total - 12) * decoder.spec.layers


def test_window_mask_matches_reference_mask():
    for start, seq, window in [(0, 6, 3), (9, 1, 4), (5, 4, 2)]:
        mask = window_mask(start, seq, 16, window, torch.float32)  # (S, 16)
        want = causal_mask(start, seq, window)  # (S, start + S)
        assert torch.equal(mask[:, : start + seq] == 0, want)
        assert torch.isinf(mask[:, start + seq:]).all()


def test_cache_longer_than_tables_is_refused():
    decoder = tiny_decoder("llama", positions=32)
    with pytest.raises(ValueError, match="exceeds"):
        StaticCacheDecoder(decoder, 64)
