"""`edgeslm verify BUNDLE`: reload the full-precision source and re-measure the bundle.

A received bundle is data: its manifest may say where the source was, but that path only passes the same gates
as `export --model` (no pickle unless --allow-pickle, no remote code unless --trust-remote-code on this command
line; the manifest's own options are never obeyed), relative paths resolve against the bundle's folder (never the
working directory), and a source or adapter inside the bundle itself is refused: a bundle cannot vouch for itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslm.bundle.manifest import field, sha256
from edgeslm.bundle.reader import checked_manifest
from edgeslm.errors import UnsupportedError, UserError
from edgeslm.pipeline.config import MAX_DECODE_TOKENS
from edgeslm.quant import get_scheme
from edgeslm.sources.load import load_config, load_model
from edgeslm.sources.resolve import ResolvedSource, resolve
from edgeslm.verify.check import backend_verdict
from edgeslm.verify.reference import record_reference



@dataclass(frozen=True)
class VerifyOptions:
    """What the user said on this command line: the only source of trust decisions."""

    source: Path | None = None
    adapter: Path | None = None
    allow_pickle: bool = False
    trust_remote_code: bool = False
    threads: int | None = None
    pubkey: Path | None = None
    clinical_n: int | None = None  # questions per clinical set (--clinical); None: no clinical check


def _outside_bundle(bundle: Path, recorded, what: str) -> Path:
    if not isinstance(recorded, str) or not recorded:
        raise UserError(f"the bundle does not record its {what}", hint=f"Pass --{what} PATH.")
    path = Path(recorded).expanduser()
    path = path if path.is_absolute() else bundle / path
    real, root = path.resolve(), bundle.resolve()
    if real == root or root in real.parents:
        raise UserError(f"the bundle's manifest names a {what} inside the bundle itself ({recorded})",
                        hint=f"A bundle cannot vouch for itself: pass the original with --{what} PATH.")
    return path


def source_of(bundle: Path, manifest: dict, opts: VerifyOptions) -> ResolvedSource:
    src = manifest["source"]
    if opts.source is not None:
        path = Path(opts.source)
    else:
        path = _outside_bundle(bundle, src.get("path"), "source")
        if not path.exists():
            raise UserError(f"the bundle's source {src.get('label')} is not at {path} any more",
                            hint="Verification needs the full-precision source: pass it with --source PATH.")
    resolved = resolve(str(path), opts.allow_pickle)  # the export's gates: pickle, format, corrupt files
    root = resolved.path.parent if resolved.path.is_file() else resolved.path
    records = src.get("files") if isinstance(src.get("files"), list) else []
    for record in records:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str):
            raise UserError("the bundle's source file list is damaged", hint="Re-export the bundle.")
        from edgeslm.bundle.layout import confined

        file = confined(root, name, what="source file")
        if not file.is_file() or sha256(file) != record.get("sha256"):
            raise UserError(f"source file {name} is missing or changed since the export",
                            hint="Pass the source the bundle was exported from (--source PATH); "
                                 "the reference would not be the same model.")
    return ResolvedSource(resolved.kind, str(src.get("label") or path), resolved.path, hub_id=src.get("hub_id"))


def adapter_of(bundle: Path, manifest: dict, opts: VerifyOptions) -> Path | None:
    if opts.adapter is not None:
        return Path(opts.adapter)
    recorded = field(manifest, "source.adapter.path") or field(manifest, "options.adapter")
    return None if recorded in (None, "None") else _outside_bundle(bundle, recorded, "adapter")


def _prompts_and_steps(manifest: dict) -> tuple[tuple[str, ...], int]:
    prompts = field(manifest, "verify.prompts")
    if not (isinstance(prompts, list) and prompts and all(isinstance(p, str) and p for p in prompts)):
        raise UserError("the bundle's manifest has no verification prompts", hint="Re-export the bundle.")
    steps = field(manifest, "options.verify_decode_tokens")
    steps = 16 if steps is None else steps
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_DECODE_TOKENS:
        raise UserError(f"the bundle's verify_decode_tokens is {steps!r}", hint="Re-export the bundle.")
    return tuple(prompts), steps


def reverify(bundle: Path, opts: VerifyOptions = VerifyOptions()) -> dict:
    """The bundle is measured by its backend's `verify` (edgeslm/backends/base.py), as at export: the host runner
    by default, and for a backend whose runtime may be absent here (Core ML off macOS) the checks that run.
    With `opts.clinical_n`, the clinical pack too (edgeslm/clinical), that many questions per set."""
    from edgeslm.backends import BACKENDS
    from edgeslm.bundle.confine import require_confined_model

    bundle = Path(bundle)
    manifest = checked_manifest(bundle, opts.pubkey)
    backend = BACKENDS.get(manifest["format"])
    require_confined_model(bundle, manifest)
    source = source_of(bundle, manifest, opts)
    prompts, decode = _prompts_and_steps(manifest)
    if field(manifest, "quant.native.streamed") is True:  # a big model: stream the reference again
        from edgeslm.pipeline.stream_export import reverify_streamed

        if opts.clinical_n is not None or opts.adapter is not None or opts.trust_remote_code:
            raise UnsupportedError("a streamed bundle is re-verified streamed: --clinical, --adapter and "
                                   "--trust-remote-code need the whole float model in memory",
                                   hint="Drop those options; the streamed check runs both of its parts.")
        return reverify_streamed(manifest, source.path, bundle, decode, opts.threads)
    config = load_config(source, opts.trust_remote_code)
    loaded = load_model(source, config, opts.trust_remote_code, adapter_of(bundle, manifest, opts))
    max_positions = manifest["generation"]["max_positions"]
    refs = record_reference(loaded.model, loaded.tokenizer, prompts, decode, max_positions)
    scheme = get_scheme(manifest["quant"]["scheme"]["name"])

    def make_decoder():
        from edgeslm.model.adapt import adapt

        return adapt(loaded.model, max_positions)

    metrics, checks = backend.verify(bundle, manifest.get("io"), refs, scheme, make_decoder, opts.threads)
    verdict, record = backend_verdict(metrics, checks, scheme.name)
    result = {"passed": verdict.passed, "failures": list(verdict.failures), "metrics": metrics.to_dict(),
              "scheme": scheme.name, **record}
    if opts.clinical_n is not None:
        from edgeslm.clinical.rerun import clinical_rerun

        result = clinical_rerun(result, manifest, bundle, loaded, make_decoder, opts.clinical_n, opts.threads)
    return result
