"""`edgeslm verify` of a Core ML bundle: the host checks export ran, re-run from the bundle on disk.

Off macOS Core ML's runtime does not exist, so the bundle is re-checked the way export checked it (host_verify.py):
the traced fp32 wrapper against the reloaded source (trace), the package's MIL program (structure, package),
and the weights read back from model.mlpackage, dequantized, run against the source with the scheme's tolerance
(stored_weights). On a Mac MLModel.predict runs too (coreml_predict); elsewhere it is listed as not run, with why.
"""

from __future__ import annotations

from pathlib import Path


def reverify_bundle(bundle_dir: Path, manifest: dict, model, references, threads: int | None = None):
    """(metrics, checks) for the bundle against `model`, the full-precision source reloaded from the manifest."""
    from edgeslm.backends.coreml.host_verify import host_verify
    from edgeslm.backends.coreml.runner import CoreMLRunner
    from edgeslm.model.adapt import adapt
    from edgeslm.quant import get_scheme

    decoder = adapt(model, int(manifest["arch"]["spec"]["max_positions"]))
    scheme = get_scheme(manifest["quant"]["scheme"]["name"])
    return host_verify(decoder, scheme, Path(bundle_dir), references, threads,
                       runner_factory=lambda: CoreMLRunner(bundle_dir, manifest.get("io"), threads))
