"""The Core ML stateful-cache attention wrapper, eager, against the EdgeDecoder reference path (no coremltools):
prefill + decode steps, GQA, partial rotary, learned positions, and gemma3's sliding window past its length."""

import numpy as np
import pytest
import torch

from conftest import ARCH_NAMES
from edgeslm.archs import ARCHS
from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder, causal_mask, window_mask
from edgeslm.kernels.reference import causal_mask as bool_mask
from edgeslm.model.adapt import adapt


def _decoder(arch: str, max_positions: int = 96):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(ARCHS.get(arch).tiny_config()).eval()
    return adapt(model, max_positions)


def _reference_steps(decoder, prompt: torch.Tensor, tokens: list[int]):
    """Logits of the reference kernel: the prompt at once, then one token at a time on its growing cache."""
    with torch.no_grad():
        logits, *past = decoder(prompt, torch.ones(1, prompt.shape[1], dtype=torch.long), *decoder.empty_cache())
        steps = [logits[0]]
        for t in tokens:
            out = decoder(torch.tensor([[t]]), torch.ones(1, past[0].shape[2] + 1, dtype=torch.long), *past)
            steps.append(out[0][0])
            past = list(out[1:])
    return torch.cat(steps).numpy()


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_wrapper_matches_reference_prefill_and_decode(arch):
    decoder = _decoder(arch)
    prompt = torch.randint(3, 100, (1, 11))
    tokens = list(range(5, 30))  # 11 + 25 positions: past gemma3's tiny window (8)
    want = _reference_steps(decoder, prompt, tokens)
    runner = EagerRunner(StatefulDecoder(decoder, 96).eval())
    runner.reset()
    got = [runner.prefill(prompt.numpy())] + [runner.decode(t)[None] for t in tokens]
    assert np.abs(np.concatenate(got) - want).max() < 1e-5


def test_sliding_window_past_its_length():
    """gemma3's local layers: with 40 positions and a window of 8, the windowed mask must hide far keys, and
    the wrapper must agree with the reference; without the window band it must not (the test has teeth)."""
    decoder = _decoder("gemma3_text")
    windows = decoder.spec.sliding_windows
    assert any(windows) and max(windows) < 40
    prompt = torch.randint(3, 100, (1, 20))
    tokens = list(range(40, 60))
    want = _reference_steps(decoder, prompt, tokens)
    runner = EagerRunner(StatefulDecoder(decoder, 64).eval())
    runner.reset()
    got = np.concatenate([runner.prefill(prompt.numpy())] + [runner.decode(t)[None] for t in tokens])
    assert np.abs(got - want).max() < 1e-5

    # The same model with every layer global differs: the window is really applied.
    from dataclasses import replace

    spec = replace(decoder.spec, sliding_windows=tuple(0 for _ in windows))
    for layer in decoder.layers:
        layer.params = replace(layer.params, window=0)
    decoder.spec = spec
    runner = EagerRunner(StatefulDecoder(decoder, 64).eval())
    runner.reset()
    unwindowed = np.concatenate([runner.prefill(prompt.numpy())] + [runner.decode(t)[None] for t in tokens])
    assert np.abs(unwindowed - want).max() > 1e-2


@pytest.mark.parametrize("past,new", [(0, 5), (7, 1), (12, 3)])
def test_window_mask_is_the_reference_band(past, new):
    mask = window_mask(causal_mask(past, new), past, window=4)[0, 0]
    assert torch.equal(mask == 0, bool_mask(past, new, 4))


def test_cache_state_is_written_by_slicing():
    """Prefill then decode leave exactly P + S rows written in every layer's state; the rest stays zero."""
    decoder = _decoder("llama")
    wrapper = StatefulDecoder(decoder, 32).eval()
    with torch.no_grad():
        wrapper(torch.randint(3, 100, (1, 6), dtype=torch.int32), causal_mask(0, 6))
        wrapper(torch.tensor([[7]], dtype=torch.int32), causal_mask(6, 1))
    rows = wrapper.k_cache.abs().sum(dim=(1, 2, 4))  # (layers, max_len)
    assert bool((rows[:, :7] > 0).all()) and bool((rows[:, 7:] == 0).all())
