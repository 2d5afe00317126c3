"""`edgeslm verify BUNDLE`: reload the source named in the manifest and re-measure the bundle.

The bundle is measured by its backend's `verify` (edgeslm/backends/base.py), as at export: the host runner by
default, and for a backend whose runtime may be absent here (Core ML off macOS) the checks that run without it.
"""

from __future__ import annotations

from pathlib import Path

from edgeslm.bundle.manifest import read_manifest, require_intact, sha256
from edgeslm.errors import UserError
from edgeslm.quant import get_scheme
from edgeslm.sources.load import load_config, load_model
from edgeslm.sources.resolve import ResolvedSource
from edgeslm.verify.check import Verdict, judge
from edgeslm.verify.reference import record_reference
from edgeslm.verify.thresholds import tolerance_for


def source_of(manifest: dict) -> ResolvedSource:
    src = manifest["source"]
    path = Path(src["path"]) if src.get("path") else None
    if path is None or not path.exists():
        raise UserError(f"the bundle's source {src.get('label')} is not at {src.get('path')} any more",
                        hint="Verification needs the full-precision source; restore it or re-export.")
    root = path.parent if path.is_file() else path
    for record in src.get("files", []):
        if sha256(root / record["name"]) != record["sha256"]:
            raise UserError(f"source file {record['name']} changed since the export",
                            hint="Re-export from the current source; the reference would not be the same model.")
    return ResolvedSource(src["kind"], src["label"], path, hub_id=src.get("hub_id"))


def reverify(bundle: Path, threads: int | None = None) -> dict:
    from edgeslm.backends import BACKENDS

    bundle = Path(bundle)
    if not bundle.is_dir():
        raise UserError(f"no bundle folder at {bundle}", hint="Pass the folder written by `edgeslm export -o`.")
    manifest = read_manifest(bundle)
    require_intact(bundle, manifest)
    backend = BACKENDS.get(manifest["format"])
    source = source_of(manifest)
    options = manifest.get("options", {})
    config = load_config(source, bool(options.get("trust_remote_code")))
    adapter = Path(options["adapter"]) if options.get("adapter") not in (None, "None") else None
    loaded = load_model(source, config, bool(options.get("trust_remote_code")), adapter)
    prompts = tuple(manifest["verify"]["prompts"])
    decode = int(options.get("verify_decode_tokens", 16))
    max_positions = manifest["generation"]["max_positions"]
    refs = record_reference(loaded.model, loaded.tokenizer, prompts, decode, max_positions)
    scheme = get_scheme(manifest["quant"]["scheme"]["name"])

    def make_decoder():
        from edgeslm.model.adapt import adapt

        return adapt(loaded.model, max_positions)

    metrics, checks = backend.verify(bundle, manifest.get("io"), refs, scheme, make_decoder, threads)
    verdict = judge(metrics, tolerance_for(scheme.name))
    if checks.get("failures"):
        verdict = Verdict(False, verdict.failures + tuple(checks["failures"]))
    return {"passed": verdict.passed, "failures": list(verdict.failures), "metrics": metrics.to_dict(),
            "scheme": scheme.name, "runtime": checks["runtime"],
            **({"checks_run": checks["run"], "checks_not_run": checks["not_run"]} if "run" in checks else {})}
