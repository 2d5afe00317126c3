"""Reference outputs from the full-precision PyTorch model, recorded at load time for the verify stage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PromptReference:
    prompt: str
    input_ids: np.ndarray  # (S,)
    prompt_logits: np.ndarray  # (S, V) logits at every prompt position
    continuation: np.ndarray  # (N,) greedy tokens the reference generates after the prompt
    decode_logits: np.ndarray  # (N, V) logits that produced each continuation token


def record_reference(model, tokenizer, prompts: tuple[str, ...], decode_tokens: int,
                     max_positions: int) -> list[PromptReference]:
    """Run the HF model on each prompt, then greedily for `decode_tokens` more through its own KV cache."""
    refs = []
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt").input_ids[:, : max_positions - decode_tokens - 1]
            out = model(ids, use_cache=True)
            prompt_logits = out.logits[0].float()
            cache, next_logits = out.cache, prompt_logits[-1]
            steps, tokens = [], []
            for _ in range(decode_tokens):
                token = int(next_logits.argmax())
                tokens.append(token)
                out = model(torch.tensor([[token]]), cache=cache, use_cache=True)
                cache, next_logits = out.cache, out.logits[0, -1].float()
                steps.append(next_logits)
            refs.append(PromptReference(
                prompt, ids[0].numpy(), prompt_logits.numpy(), np.array(tokens, dtype=np.int64),
                torch.stack(steps).numpy() if steps else np.zeros((0, prompt_logits.shape[-1]), np.float32)))
    return refs
