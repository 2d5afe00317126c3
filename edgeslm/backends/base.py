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
    from edgeslm.model.skeleton import Skeleton
    from edgeslm.verify.thresholds import Tolerance
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
    hub_name:  the source's Hugging Face Hub id when known (catalog models, the embedded default): a Core ML
               package names it in its metadata, where swift-transformers looks up the tokenizer and generation
               config (`co.huggingface.exporters.name`). Streamed exports (local folders) have none.
    """

    gguf_path: Path | None = None
    hub_name: str | None = None


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


Progress = Callable[[int, int], None]


@dataclass
class LoweringCheck:
    """How the streaming export's verify part (a), lowering exactness, checks a bundle of this backend: the
    bundle's logits against a PyTorch run of the very weights it stores.

    stored_logits(sequences, progress): logits (S, V) at every position of each token sequence, computed in
                  PyTorch from the weights the bundle stores.
    exact_runner: the bundle run with arithmetic that reference reproduces, when the shipped kernels' is not
                  (ONNX: MatMulNBits in float32; Core ML on macOS: the package's weights in PyTorch beside
                  MLModel.predict); None: the shipped runner is compared as it is.
    reference, runtime: what each side is, for the manifest.
    tolerance: how close they must be, with the measurement behind it (verify/thresholds.py).
    shipped_runner: the bundle as shipped, where this host cannot run the backend's own runtime (Core ML off
                    macOS: the package's stored weights in PyTorch); None: the backend's runner.
    """

    stored_logits: Callable[[list[np.ndarray], Progress | None], list[np.ndarray]] | None
    exact_runner: Callable[[int | None], "Runner"] | None  # (threads) -> runner
    reference: str
    runtime: str
    tolerance: "Tolerance"
    shipped_runner: Callable[[int | None], "Runner"] | None = None  # (threads) -> runner

    def stored_logits_once(self, sequences: list[np.ndarray], progress: Progress | None = None) -> list[np.ndarray]:
        """`stored_logits`, then let go of everything the check closes over (ExecuTorch and Core ML: the whole
        quantized model, ~5 GB at 4B): it must not stay in memory while verify goes on to the float reference.
        Open the shipped runner before this."""
        if self.stored_logits is None:
            raise RuntimeError("this lowering check was already run")
        run, self.stored_logits, self.shipped_runner = self.stored_logits, None, None
        return run(sequences, progress)


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

    # Streaming export (big models, pipeline/stream_export.py): a backend that can build its bundle from a
    # meta-device skeleton without holding the float model sets `streams` and implements the two methods below.
    streams: bool = False
    streamed_how: tuple[str, str] = ("", "")  # (what the lower stage says, the unit its progress counts)

    def stream_blocker(self, scheme: QuantScheme) -> str | None:
        """Why this backend cannot stream an export in `scheme`, or None: the one place that decides it (export's
        --stream check and the automatic choice between streaming and in memory both ask here)."""
        if not self.streams:
            return f"the {self.name} exporter needs the whole float model in memory"
        return None

    def lower_streamed(self, skel: "Skeleton", scheme: QuantScheme, out_dir: Path,
                       progress: Progress | None = None) -> tuple[LoweredArtifact, LoweringCheck]:
        """Lower from the skeleton's lazy weights, never all of them in float at once; with the check of (a)."""
        raise NotImplementedError(f"the {self.name} backend does not stream")

    def lowering_check(self, skel: "Skeleton", scheme: QuantScheme, bundle_dir: Path) -> LoweringCheck:
        """The check of (a) for a bundle already written (`edgeslm verify` of a streamed bundle)."""
        raise NotImplementedError(f"the {self.name} backend does not stream")

    def verify(self, bundle_dir: Path, io: dict, references: list[PromptReference], scheme: QuantScheme,
               make_decoder: Callable[[], EdgeDecoder], threads: int | None = None) -> tuple[VerifyMetrics, dict]:
        """Measure the bundle against the float references. Returns the metrics the scheme's tolerance judges and
        the record of checks: {"runtime": what ran it, and optionally "run" / "not_run" / "failures"}.

        The default runs the backend's host runner. `make_decoder` builds the float EdgeDecoder; only a backend that
        checks against it (Core ML, whose runtime exists only on macOS) calls it."""
        from edgeslm.verify.metrics import measure

        return measure(self.runner(bundle_dir, io, threads), references), {"runtime": f"host {self.name}"}

    def scoring_runner(self, bundle_dir: Path, io: dict | None, threads: int | None,
                       make_decoder: Callable[[], EdgeDecoder]) -> tuple[Runner, str]:
        """A runner that scores the bundle on this host (the clinical pack: export, verify, compare), and what it
        is. The default: the backend's host runner. `make_decoder` builds the float EdgeDecoder, for a backend whose
        runtime may be absent here (Core ML off macOS runs the weights read back from its package)."""
        return self.runner(Path(bundle_dir), io, threads), f"host {self.name}"

    def profiling_runner(self, bundle_dir: Path, io: dict, spec: dict) -> ProfileRun:
        """The runner `edgeslm profile` times on the host, in its worker process. `spec`: the worker's run spec
        (threads, runs, gen_len, op_profile_prefix when --ops asks for an operator table). The default: the host
        runner, no operator table."""
        return ProfileRun(self.runner(bundle_dir, io, spec.get("threads")))
