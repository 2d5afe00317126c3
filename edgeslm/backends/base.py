"""What a backend declares (DESIGN.md: backends registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edgeslm.quant import QuantScheme

if TYPE_CHECKING:  # the runners must import without torch (an app-side process loads only onnxruntime)
    from edgeslm.model.decoder import EdgeDecoder


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str = ""


@dataclass
class LoweredArtifact:
    """What `lower` (+ quantize) wrote, for the manifest."""

    files: list[str]  # relative to the bundle dir
    io: dict  # input/output names, KV-cache layout
    quant: dict  # the backend's native quant config
    fallbacks: list[dict] = field(default_factory=list)  # {"what", "reason"}
    kernels: dict = field(default_factory=dict)  # fused-op counts etc.


class Runner(Protocol):
    """Host runtime over a lowered model: batch 1, greedy-friendly."""

    def reset(self) -> None: ...

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        """(1, S) int64 -> logits (S, vocab) for every prompt position."""

    def decode(self, token_id: int) -> np.ndarray:
        """One more token -> logits (vocab,)."""


class Backend(Protocol):
    name: str
    extension: str

    def supports(self, model_type: str, scheme: QuantScheme) -> Support: ...

    def lower(self, decoder: "EdgeDecoder", scheme: QuantScheme, out_dir: Path, context: dict) -> LoweredArtifact: ...

    def runner(self, bundle_dir: Path, io: dict, threads: int | None = None) -> Runner: ...
