"""The host runner for ExecuTorch bundles: the pybindings runtime, batch 1, the KV cache inside the program.

The static cache lives in the loaded program's mutable buffers; the runner only tracks the next position.
`reset()` sets it back to 0: the next prefill overwrites the cache from position 0, and custom_sdpa never
reads past start_pos + S - 1, so entries left from an earlier prompt are never seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeslm.errors import UserError

MODEL_FILE = "model.pte"
METHOD = "forward"


def load_runtime_ops() -> None:
    """Register the kernels a bundle's program needs beyond the portable set: llama::update_cache /
    custom_sdpa (extension/llm/custom_ops) and quantized_decomposed::embedding_byte (kernels/quantized)."""
    import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401
    import executorch.kernels.quantized  # noqa: F401


def set_thread_count(threads: int | None) -> int | None:
    """Size ExecuTorch's process-wide thread pool; returns the previous size (None: left alone).

    Only call this while no program is loaded: resizing frees the pool that XNNPACK was set up with, and a
    loaded program then crashes in its next call (seen as a segfault in decode)."""
    if not threads:
        return None
    from executorch.extension.pybindings import portable_lib

    before = portable_lib._threadpool_get_thread_count()
    if before != threads:
        portable_lib._unsafe_reset_threadpool(threads)
    return before


class ExecuTorchRunner:
    def __init__(self, bundle_dir: Path | str, threads: int | None = None, model_file: str = MODEL_FILE,
                 max_len: int | None = None):
        import torch
        from executorch.extension.pybindings.portable_lib import _load_for_executorch

        path = Path(bundle_dir) / model_file
        if not path.is_file():
            raise UserError(f"no {model_file} in {bundle_dir}", hint="Point at a bundle written by `edgeslm export`.")
        load_runtime_ops()
        self._torch = torch
        self.threads = threads
        # The pool is sized once, before the program loads (see set_thread_count); close() restores it.
        self._threads_before = set_thread_count(threads)
        self.module = _load_for_executorch(str(path))
        self.max_len = max_len or int(self.module.run_method("get_max_context_len", ())[0])
        self.position = 0

    def reset(self) -> None:
        self.position = 0

    def close(self) -> None:
        """Unload the program, then give the thread pool back its previous size."""
        self.module = None
        if self._threads_before is not None:
            set_thread_count(self._threads_before)
            self._threads_before = None

    def _step(self, ids: np.ndarray) -> np.ndarray:
        torch = self._torch
        tokens = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64)).reshape(1, -1)
        if self.position + tokens.shape[1] > self.max_len:
            raise UserError(f"{self.position + tokens.shape[1]} tokens exceed the bundle's context of "
                            f"{self.max_len}", hint="Export with a larger --max-seq-len, or reset().")
        (logits,) = self.module.forward((tokens, torch.tensor([self.position], dtype=torch.long)))
        self.position += tokens.shape[1]
        return logits[0].numpy()  # (S, V)

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        return self._step(np.asarray(input_ids).reshape(1, -1))

    def decode(self, token_id: int) -> np.ndarray:
        return self._step(np.array([[token_id]], dtype=np.int64))[-1]
