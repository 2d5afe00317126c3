"""A bundle's own greedy run, recorded once, so that several references can be scored along the same tokens.

The streamed references (verify/layerwise.py) run whole sequences, not a decode loop, so the tokens must be
known first: the bundle prefills each prompt and greedily continues it; every reference is then run over
prompt + continuation, and its logits at each position are what the bundle's prefill and decode steps
produced there.
"""

from __future__ import annotations

import numpy as np

from edgeslm.verify.reference import PromptReference


def greedy_outputs(runner, prompts: tuple[str, ...], prompt_ids: list[np.ndarray],
                   decode_tokens: int) -> list[PromptReference]:
    """For each prompt: the runner's prompt logits, its greedy tokens and the logits of each decode step."""
    runs = []
    for prompt, ids in zip(prompts, prompt_ids, strict=True):
        runner.reset()
        prompt_logits = runner.prefill(ids[None, :])
        token, tokens, steps = int(prompt_logits[-1].argmax()), [], []
        for _ in range(decode_tokens):
            tokens.append(token)
            logits = runner.decode(token)
            steps.append(logits)
            token = int(logits.argmax())
        decode = np.stack(steps) if steps else np.zeros((0, prompt_logits.shape[-1]), np.float32)
        runs.append(PromptReference(prompt, ids, prompt_logits, np.array(tokens, dtype=np.int64), decode))
    return runs


def references_along(runs: list[PromptReference], logits: list[np.ndarray]) -> list[PromptReference]:
    """A reference's whole-sequence logits (prompt + continuation) cut like the runs they are compared with."""
    refs = []
    for run, full in zip(runs, logits, strict=True):
        n = len(run.input_ids)
        refs.append(PromptReference(run.prompt, run.input_ids, full[:n], run.continuation,
                                    full[n: n + len(run.continuation)]))
    return refs
