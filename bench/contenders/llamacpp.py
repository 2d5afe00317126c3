"""Baseline: llama.cpp (through llama-cpp-python) on the original Q4_1 GGUF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from llama_cpp import Llama


class LlamaCppRunner:
    def __init__(self, gguf: Path, threads: int, ctx: int):
        # logits_all: keep every prompt position's logits, as the other contenders' prefill does.
        self.llm = Llama(model_path=str(gguf), n_ctx=ctx, n_batch=ctx, n_threads=threads,
                         n_threads_batch=threads, logits_all=True, verbose=False)

    def reset(self) -> None:
        self.llm.reset()

    def prefill(self, ids: np.ndarray) -> np.ndarray:
        self.llm.eval(ids[0].tolist())
        return self.llm.scores[: self.llm.n_tokens].copy()  # (S, vocab)

    def decode(self, token_id: int) -> np.ndarray:
        self.llm.eval([token_id])
        return self.llm.scores[self.llm.n_tokens - 1].copy()


def load(artifact: Path, threads: int, ctx: int) -> LlamaCppRunner:
    return LlamaCppRunner(artifact, threads, ctx)


def model_files(artifact: Path) -> list[Path]:
    return [artifact]
