"""The macOS runner for Core ML bundles: MLModel.predict with the KV cache held in a state (make_state)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edgeslm.backends.coreml.contract import INPUTS, MODEL_DIR, OUTPUT, position_mask_shape
from edgeslm.errors import UnsupportedError, UserError


class CoreMLRunner:
    def __init__(self, bundle_dir: Path | str, io: dict | None = None, threads: int | None = None):
        if sys.platform != "darwin":
            raise UnsupportedError("Core ML bundles run only on macOS / iOS (MLModel.predict)",
                                   hint="Run on a Mac, or check the bundle here with `edgeslm verify` "
                                        "(its host checks are recorded in manifest.json under verify).")
        import coremltools as ct

        path = Path(bundle_dir) / MODEL_DIR
        if not path.is_dir():
            raise UserError(f"no {MODEL_DIR} in {bundle_dir}", hint="Point at a bundle written by `edgeslm export`.")
        self.model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL)
        self.reset()

    def reset(self) -> None:
        self.state = self.model.make_state()  # zeroed KV cache
        self.length = 0

    def _step(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int32).reshape(1, -1)
        feeds = {INPUTS[0]: ids, INPUTS[1]: np.zeros(position_mask_shape(self.length, ids.shape[1]), np.float16)}
        logits = self.model.predict(feeds, state=self.state)[OUTPUT]
        self.length += ids.shape[1]
        return np.asarray(logits, dtype=np.float32)[0]

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        return self._step(input_ids)

    def decode(self, token_id: int) -> np.ndarray:
        return self._step(np.array([[token_id]]))[-1]
