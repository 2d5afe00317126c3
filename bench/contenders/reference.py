"""Float reference: the transformers model dequantized from the GGUF (saved as an HF folder), fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM


class TorchRunner:
    def __init__(self, folder: Path, threads: int):
        torch.set_num_threads(threads)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        self.reset()

    def reset(self) -> None:
        self.cache = None

    @torch.inference_mode()
    def _step(self, ids: np.ndarray) -> np.ndarray:
        out = self.model(torch.from_numpy(ids), cache=self.cache, use_cache=True)
        self.cache = out.cache
        return out.logits[0].float().numpy()  # (S, vocab)

    def prefill(self, ids: np.ndarray) -> np.ndarray:
        return self._step(ids)

    def decode(self, token_id: int) -> np.ndarray:
        return self._step(np.array([[token_id]], dtype=np.int64))[-1]


def load(artifact: Path, threads: int, ctx: int) -> TorchRunner:
    return TorchRunner(artifact, threads)


def model_files(artifact: Path) -> list[Path]:
    return sorted(artifact.glob("*.safetensors"))
