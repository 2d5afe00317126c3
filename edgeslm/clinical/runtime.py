"""The bundle's own runtime for the clinical pack: the backend's host runner, or for Core ML off macOS the
weights read back from the package run in the PyTorch wrapper (as the verify stage's stored_weights check)."""

from __future__ import annotations

from pathlib import Path


def clinical_runner(fmt: str, bundle_dir: Path, io: dict | None, threads: int | None, decoder_factory):
    """(runner, what ran). decoder_factory() -> the adapted EdgeDecoder, needed only for the Core ML host path."""
    from edgeslm.backends import BACKENDS

    if fmt == "coreml":
        from edgeslm.backends.coreml.host_verify import coreml_runtime_available

        if coreml_runtime_available() is not None:
            from edgeslm.backends.coreml.convert import MODEL_DIR
            from edgeslm.backends.coreml.host_verify import with_stored_weights
            from edgeslm.backends.coreml.mil import load_program, stored_weights
            from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder

            decoder = decoder_factory()
            clone = with_stored_weights(decoder, stored_weights(load_program(Path(bundle_dir) / MODEL_DIR).mil))
            return (EagerRunner(StatefulDecoder(clone, decoder.spec.max_positions).eval()),
                    "host pytorch (weights read back from the Core ML package)")
    return BACKENDS.get(fmt).runner(Path(bundle_dir), io, threads), f"host {fmt}"
