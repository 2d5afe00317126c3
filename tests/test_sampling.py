"""Decoding settings: the source's defaults recorded, the same arithmetic as transformers, seeded runs repeat."""

import json

import numpy as np
import pytest
import torch

from edgeslm.errors import UserError
from edgeslm.sampling import Sampling, TokenPicker, source_sampling
from test_cli_bad_input import edgeslm


def test_scores_match_transformers_logits_processors():
    from transformers import (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
                              TopPLogitsWarper)

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 64)
    history = [3, 7, 7, 20]
    s = Sampling(do_sample=True, temperature=0.7, top_k=20, top_p=0.8, repetition_penalty=1.3)
    ids, want = torch.tensor([history]), torch.tensor(logits[None])
    for proc in (RepetitionPenaltyLogitsProcessor(1.3), TemperatureLogitsWarper(0.7), TopKLogitsWarper(20),
                 TopPLogitsWarper(0.8)):
        want = proc(ids, want)
    got = TokenPicker(s).scores(logits, history)
    want = want[0].numpy()
    assert np.array_equal(np.isinf(got), np.isinf(want)) and 1 < np.isfinite(got).sum() <= 20
    assert np.allclose(got[np.isfinite(got)], want[np.isfinite(want)])


def test_greedy_repetition_penalty_and_seeds():
    logits = np.array([1.0, 3.0, 2.9, -1.0])
    assert TokenPicker(Sampling())(logits, [1]) == 1
    assert TokenPicker(Sampling(repetition_penalty=1.2))(logits, [1]) == 2  # 3.0/1.2 = 2.5 < 2.9
    s = Sampling(do_sample=True, temperature=1.5, seed=7)
    draws = [TokenPicker(s)(logits, []) for _ in range(2)]
    assert draws[0] == draws[1]
    many = TokenPicker(s)
    assert len({many(logits, []) for _ in range(50)}) > 1  # it does sample
    with pytest.raises(UserError):
        Sampling(temperature=0)


def test_source_defaults_are_read_from_generation_config():
    from transformers import GenerationConfig

    s = source_sampling(GenerationConfig(do_sample=True, temperature=0.6, top_p=0.9, top_k=40,
                                         repetition_penalty=1.1))
    assert s == Sampling(True, 0.6, 40, 0.9, 1.1)
    assert source_sampling(None) == Sampling()


def test_run_applies_settings_and_a_seed_repeats_the_answer(exported):
    result = exported("llama", "fp32")
    assert result.manifest["generation"]["sampling"]["do_sample"] is False  # tiny model: transformers' defaults
    bundle = str(result.bundle)

    def run(*flags):
        out = edgeslm("--json", "run", bundle, "--prompt", "the capital of", "-n", "8", *flags)
        assert out.exit_code == 0, out.output
        return json.loads(out.output[out.output.index('{"ok"'):])

    greedy = run("--greedy")
    assert greedy["sampling"]["do_sample"] is False and run()["text"] == greedy["text"]
    a, b = run("--temperature", "1.5", "--seed", "3"), run("--temperature", "1.5", "--seed", "3")
    assert a["text"] == b["text"] and a["sampling"]["do_sample"] and a["sampling"]["seed"] == 3
    assert run("--repetition-penalty", "1.3", "--greedy")["sampling"]["repetition_penalty"] == 1.3
