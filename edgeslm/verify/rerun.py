"""`edgeslm verify BUNDLE`: reload the source named in the manifest and re-measure the bundle."""

from __future__ import annotations

from pathlib import Path

from edgeslm.backends import BACKENDS
from edgeslm.bundle.manifest import read_manifest, require_intact, sha256
from edgeslm.errors import UserError
from edgeslm.sources.load import load_config, load_model
from edgeslm.sources.resolve import ResolvedSource
from edgeslm.verify.check import judge
from edgeslm.verify.metrics import measure
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
    manifest = read_manifest(Path(bundle))
    require_intact(Path(bundle), manifest)
    backend = BACKENDS.get(manifest["format"])
    source = source_of(manifest)
    options = manifest.get("options", {})
    config = load_config(source, bool(options.get("trust_remote_code")))
    adapter = Path(options["adapter"]) if options.get("adapter") not in (None, "None") else None
    loaded = load_model(source, config, bool(options.get("trust_remote_code")), adapter)
    prompts = tuple(manifest["verify"]["prompts"])
    decode = int(options.get("verify_decode_tokens", 16))
    refs = record_reference(loaded.model, loaded.tokenizer, prompts, decode, manifest["generation"]["max_positions"])
    checks: dict = {}
    if hasattr(backend, "verify_bundle"):  # its runtime may be absent here (Core ML off macOS): host checks
        metrics, checks = backend.verify_bundle(Path(bundle), manifest, loaded.model, refs, threads)
    else:
        metrics = measure(backend.runner(Path(bundle), manifest.get("io"), threads), refs)
    scheme = manifest["quant"]["scheme"]["name"]
    verdict = judge(metrics, tolerance_for(scheme))
    failures = list(verdict.failures) + list(checks.get("failures", []))
    return {"passed": not failures, "failures": failures, "metrics": metrics.to_dict(), "scheme": scheme,
            "checks_run": checks.get("run", []), "checks_not_run": checks.get("not_run", [])}
