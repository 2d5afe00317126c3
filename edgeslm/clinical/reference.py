"""The float reference as a prefill-only runner: the Hugging Face model the bundle was exported from."""

from __future__ import annotations

import numpy as np
import torch


class ReferenceRunner:
    def __init__(self, model):
        self.model = model

    def reset(self) -> None:
        pass

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(np.asarray(input_ids, dtype=np.int64))).logits[0].float().numpy()
