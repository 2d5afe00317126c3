"""Baseline: optimum-executorch's XNNPACK 8da4w .pte, run through the ExecuTorch pybindings.

The stock LLM runner (bench/et_llm_runner.py) gives its speed; this module gives the harness what the
runner does not expose: the logits of every prompt position (teacher-forced top-1 agreement). optimum's
program is `forward(input_ids (1, S) int64, cache_position (S,) int64) -> logits` with the KV cache held
inside the program (custom KV cache + custom SDPA), so `reset()` only rewinds the position: stale entries
beyond it are masked by the causal SDPA and overwritten by the next prefill.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _runtime():
    import torch
    # The llama:: (custom_sdpa, update_cache) and quantized_decomposed:: (embedding_byte) kernels live
    # outside the core pybindings; importing these modules registers them with the runtime.
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401
    import executorch.kernels.quantized  # noqa: F401
    from executorch.extension.pybindings import portable_lib

    return torch, portable_lib


class PteRunner:
    def __init__(self, pte: Path, threads: int):
        self.torch, portable_lib = _runtime()
        if portable_lib._threadpool_get_thread_count() != threads:  # resizing under a loaded program crashes it
            portable_lib._unsafe_reset_threadpool(threads)
        self.module = portable_lib._load_for_executorch(str(pte))
        self.pos = 0

    def reset(self) -> None:
        self.pos = 0

    def _step(self, ids: np.ndarray) -> np.ndarray:
        torch = self.torch
        n = ids.shape[1]
        cache_position = torch.arange(self.pos, self.pos + n, dtype=torch.long)
        logits = self.module.forward([torch.from_numpy(ids.astype(np.int64)), cache_position])[0]
        self.pos += n
        return logits[0].float().numpy().reshape(-1, logits.shape[-1])  # (S, vocab) or (1, vocab)

    def prefill(self, ids: np.ndarray) -> np.ndarray:
        logits = self._step(ids)
        if logits.shape[0] != ids.shape[1]:
            raise RuntimeError(f"the program returns logits for {logits.shape[0]} of {ids.shape[1]} positions")
        return logits

    def decode(self, token_id: int) -> np.ndarray:
        return self._step(np.array([[token_id]], dtype=np.int64))[-1]


def load(artifact: Path, threads: int, ctx: int) -> PteRunner:
    return PteRunner(artifact / "model.pte", threads)


def model_files(artifact: Path) -> list[Path]:
    return [artifact / "model.pte"]
