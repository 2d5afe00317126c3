"""What a backend declares (the backend contract): support, lowering, a host runner, verification, profiling.

Every backend (edgeslm/backends/<name>/backend.py) subclasses `Backend`, so the defaults below are the
behaviour of a backend that does not override them: `verify` measures the bundle through the backend's own
host runner, and `profiling_runner` is that same runner without an operator table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from edgeslm.quant import QuantScheme

if TYPE_CHECKING:  # the runners must import without torch (an app-side process loads only onnxruntime)
    from edgeslm.model.decoder import EdgeDecoder
    from edgeslm.verify.metrics import VerifyMetrics
    from edgeslm.verify.reference import PromptReference


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class LowerContext:
    """What the export pipeline tells `Backend.lower` besides the decoder, the scheme and the folder.

    gguf_path: the GGUF file the model was loaded from when its own quantization grid should be carried over
               (`--no-gguf-carry` and non-GGUF sources: None, and the scheme's quantizer rounds the float weights).
    """

    gguf_path: Path | None = None


@dataclass(frozen=True)
class Fallback:
    """Something that did not lower the preferred way (a float weight, an op on a portable kernel), and why.
    Each is listed in the manifest; `--strict` turns any of them into an error."""

    what: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "reason": self.reason}


@dataclass
class LoweredArtifact:
    """What `lower` (+ quantize) wrote, for the manifest."""

    files: list[str]  # relative to the bundle dir
    io: dict  # input/output names, KV-cache layout
    quant: dict  # the backend's native quant config
    fallbacks: list[Fallback] = field(default_factory=list)
    kernels: dict = field(default_factory=dict)  # fused-op counts etc.


class Runner(Protocol):
    """Host runtime over a lowered model: batch 1, greedy-friendly."""

    def reset(self) -> None: ...

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        """(1, S) int64 -> logits (S, vocab) for every prompt position."""

    def decode(self, token_id: int) -> np.ndarray:
        """One more token -> logits (vocab,)."""


# The per-operator table of a profiling run: (rows, about) from the prompt ids, after the timed runs.
OperatorTable = Callable[[np.ndarray], tuple[list[dict], dict]]


@dataclass(frozen=True)
class ProfileRun:
    """What `edgeslm profile` runs on the host: a runner, and (with --ops) how to get its operator table."""

    runner: Runner
    operators: OperatorTable | None = None


class Backend(Protocol):
    name: str
    extension: str
    host_runtime: str | None = None  # the runtime `edgeslm profile` uses on this host; None: no host profiling

    def supports(self, model_type: str, scheme: QuantScheme) -> Support: ...

    def lower(self, decoder: EdgeDecoder, scheme: QuantScheme, out_dir: Path, context: LowerContext
              ) -> LoweredArtifact: ...

    def runner(self, bundle_dir: Path, io: dict, threads: int | None = None) -> Runner: ...

    def verify(self, bundle_dir: Path, io: dict, references: list[PromptReference], scheme: QuantScheme,
               make_decoder: Callable[[], EdgeDecoder], threads: int | None = None) -> tuple[VerifyMetrics, dict]:
        """Measure the bundle against the float references. Returns the metrics the scheme's tolerance judges and
        the record of checks: {"runtime": what ran it, and optionally "run" / "not_run" / "failures"}.

        The default runs the backend's host runner. `make_decoder` builds the float EdgeDecoder; only a backend that
        checks against it (Core ML, whose runtime exists only on macOS) calls it."""
        from edgeslm.verify.metrics import measure

        return measure(self.runner(bundle_dir, io, threads), references), {"runtime": f"host {self.name}"}

    def profiling_runner(self, bundle_dir: Path, io: dict, spec: dict) -> ProfileRun:
        """The runner `edgeslm profile` times on the host, in its worker process. `spec`: the worker's run spec
        (threads, runs, gen_len, op_profile_prefix when --ops asks for an operator table). The default: the host
        runner, no operator table."""
        return ProfileRun(self.runner(bundle_dir, io, spec.get("threads")))
