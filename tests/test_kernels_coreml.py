"""The Core ML stateful-cache attention wrapper, eager, against the EdgeDecoder reference path (no coremltools):
prefill + decode steps, GQA, partial rotary, learned positions, and gemma3's sliding window past its length."""

import numpy as np
import pytest
import torch

from conftest import ARCH_NAMES, tiny_decoder
from edgeslm.backends.coreml.contract import position_mask_shape
from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder, causal_mask
from edgeslm.kernels.reference import causal_mask as bool_mask


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
    decoder = tiny_decoder(arch, 96)
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
    decoder = tiny_decoder("gemma3_text", 96)
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
def test_causal_and_window_masks_are_the_reference_bands(past, new):
    for window in (0, 4):
        mask = causal_mask(past, new, window=window)[0, 0]
        assert torch.equal(mask == 0, bool_mask(past, new, window))
        assert bool(torch.isneginf(mask[mask != 0]).all())  # -inf, never a NaN-prone 0 * large negative


def test_cache_state_is_written_by_slicing():
    """Prefill then decode leave exactly P + S rows written in every layer's state; the rest stays zero."""
    decoder = tiny_decoder("llama", 96)
    wrapper = StatefulDecoder(decoder, 32).eval()
    with torch.no_grad():
        wrapper(torch.randint(3, 100, (1, 6), dtype=torch.int32), torch.zeros(position_mask_shape(0, 6)))
        wrapper(torch.tensor([[7]], dtype=torch.int32), torch.zeros(position_mask_shape(6, 1)))
    rows = wrapper.keyCache.abs().sum(dim=(1, 2, 4))  # (layers, max_len)
    assert bool((rows[:, :7] > 0).all()) and bool((rows[:, 7:] == 0).all())


def swift_transformers_greedy(model, prompt: list[int], steps: int) -> list[int]:
    """LanguageModelWithStatefulKVCache.predictNextTokenScores (swift-transformers, Sources/Models/LanguageModel.swift)
    driving a model greedily: the first call feeds every token, later calls only the last one; every call feeds
    `causalMask` = zeros [1, 1, 1, tokens so far + 1] and reads logits[0, last]."""
    tokens = list(prompt)
    with torch.no_grad(), torch.jit.optimized_execution(False):
        for step in range(steps):
            ids = tokens if step == 0 else tokens[-1:]
            logits = model(torch.tensor([ids], dtype=torch.int32), torch.zeros(1, 1, 1, len(tokens) + 1))
            tokens.append(int(logits[0, -1].argmax()))
    return tokens[len(prompt):]


@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "gpt2"])
def test_the_traced_program_generates_under_swift_transformers_driving(arch):
    """The module coremltools converts, driven the way swift-transformers drives a stateful model, gives the
    reference's greedy tokens (past gemma3's window; learned positions for gpt2)."""
    from edgeslm.backends.coreml.convert import trace

    decoder = tiny_decoder(arch, 96)
    prompt = [int(t) for t in torch.randint(3, 100, (12,))]
    want, past = [], None
    with torch.no_grad():
        ids = torch.tensor([prompt])
        logits, *past = decoder(ids, torch.ones(1, len(prompt), dtype=torch.long), *decoder.empty_cache())
        for _ in range(20):
            want.append(int(logits[0, -1].argmax()))
            out = decoder(torch.tensor([[want[-1]]]), torch.ones(1, past[0].shape[2] + 1, dtype=torch.long), *past)
            logits, past = out[0], list(out[1:])
    assert swift_transformers_greedy(trace(decoder, 96), prompt, 20) == want
