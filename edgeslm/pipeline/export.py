"""The export pipeline: load -> adapt -> quantize + lower -> verify -> package, each stage timed.

Stages hand each other new objects (the HF model is never edited: adapt builds a new module), and only the
final bundle crosses to disk, atomically. Verification failures are errors with numbers; the bundle is
not published unless --keep-unverified asks for it (then marked unverified, and the exit code still says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslm.archs import ARCHS
from edgeslm.backends import BACKENDS
from edgeslm.backends.base import LowerContext
from edgeslm.bundle.manifest import write_manifest
from edgeslm.bundle.writer import check_destination, publish, staging_folder
from edgeslm.clinical.export_hook import clinical_stage
from edgeslm.errors import UnsupportedError, VerificationError
from edgeslm.fit import ModelFacts, estimate, require_fit
from edgeslm.model.adapt import adapt
from edgeslm.pipeline.config import ExportConfig
from edgeslm.pipeline.memory import choose_mode
from edgeslm.pipeline.generation import write_generation
from edgeslm.pipeline.progress import StageLog
from edgeslm.quant import get_scheme
from edgeslm.sources.load import load_config, load_model, prepare_folder
from edgeslm.sources.resolve import resolve
from edgeslm.targets import get_target
from edgeslm.verify.check import Verdict, backend_verdict
from edgeslm.verify.prompts import VERIFY_PROMPTS
from edgeslm.verify.reference import record_reference
from edgeslm.verify.thresholds import tolerance_for


@dataclass
class ExportResult:
    bundle: Path
    manifest: dict
    verified: bool


def _max_positions(config, requested: int) -> int:
    text = config.get_text_config()
    limit = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)
    return min(requested, limit) if limit else requested


def run_export(cfg: ExportConfig, log: StageLog) -> ExportResult:
    target = get_target(cfg.target)
    scheme = get_scheme(cfg.quant)
    backend = BACKENDS.get(cfg.format)
    check_destination(cfg.output, cfg.force)

    with log.stage("resolve", "checking the model source and the fit on the target"):
        resolved = _resolve(cfg, scheme, target)
    source, config, max_positions = resolved.source, resolved.config, resolved.max_positions
    if max_positions < cfg.max_seq_len:
        log.note(f"--max-seq-len {cfg.max_seq_len} is above the model's limit: the bundle serves {max_positions}")
    mode = choose_mode(cfg, source, config)
    log.note(f"{'streaming' if mode.streaming else 'in-memory'} export: {mode.reason}")
    if mode.streaming:
        from edgeslm.pipeline.stream_export import run_stream_export

        return run_stream_export(cfg, log, resolved)

    with log.stage("load", f"{source.label}"):
        loaded = load_model(source, config, cfg.trust_remote_code, cfg.adapter)
        references = record_reference(loaded.model, loaded.tokenizer, VERIFY_PROMPTS, cfg.verify_decode_tokens,
                                      max_positions)

    with log.stage("adapt", f"{config.model_type} -> edgeslm decoder, KV cache, fused attention"):
        decoder = adapt(loaded.model, max_positions)
        if not cfg.clinical:  # nothing after this stage runs the source model: free its float weights now
            release_weights(loaded.model)

    with staging_folder(cfg.output) as stage:
        context = LowerContext(gguf_path=source.gguf_file if cfg.carry_gguf_grid else None,
                               hub_name=source.hub_id or (source.catalog.hf_id if source.catalog else None) or None)
        with log.stage("lower", f"{cfg.format} {scheme.name}"):
            artifact = backend.lower(decoder, scheme, stage, context)
        report_fallbacks(cfg, log, artifact.fallbacks)

        with log.stage("verify", f"{len(references)} prompts + {cfg.verify_decode_tokens} decode steps each"):
            # The backend's host runner by default; a backend whose runtime may be absent on this host (Core ML
            # off macOS) runs every check it can here, the runtime where it exists, and says which need another host.
            metrics, checks = backend.verify(stage, artifact.io, references, scheme, lambda: decoder, cfg.threads)
            outcome, verify_section = backend_verdict(metrics, checks, scheme.name)
        # The clinical gate (--clinical): its failures join the verdict, its figures the manifest.
        clinical = clinical_stage(cfg, log, stage, artifact, loaded, decoder, scheme.name, max_positions)
        if clinical and not clinical["passed"]:
            outcome = Verdict(False, outcome.failures + tuple(clinical["failures"]))
        for check in checks.get("run", []):
            log.note(f"verify check {check['name']}: {'passed' if check['passed'] else 'FAILED'}")
        for check in checks.get("not_run", []):
            log.note(f"verify check {check['name']} not run: {check['reason']}")

        manifest = package(stage, cfg, log, resolved, loaded.tokenizer, loaded.model.generation_config, vars(loaded.source), decoder.spec,
                           artifact, outcome, metrics, verify_section, clinical)
        return conclude(stage, cfg, manifest, outcome, metrics, scheme)


def release_weights(model) -> None:
    """Move the source model's tensors to the meta device, freeing the ones only it holds (4 bytes a parameter off
    the lowering's peak; the decoder keeps its own copies). A model class that cannot move keeps its weights."""
    try:
        model.to("meta")
    except Exception:  # noqa: BLE001  a memory saving must never fail the export
        pass


def report_fallbacks(cfg: ExportConfig, log: StageLog, fallbacks) -> None:
    """Every fallback is an error under --strict; otherwise the first few are shown (all are in the manifest)."""
    if cfg.strict and fallbacks:
        raise UnsupportedError(
            f"{len(fallbacks)} fallback(s) under --strict: "
            + "; ".join(f"{f.what}: {f.reason}" for f in fallbacks[:3]),
            hint="Drop --strict to accept them (each is recorded in the manifest).")
    for fallback in fallbacks[:5]:
        log.note(f"fallback: {fallback.what}: {fallback.reason}")
    if len(fallbacks) > 5:
        log.note(f"... and {len(fallbacks) - 5} more fallbacks, all listed in manifest.json")


def conclude(stage: Path, cfg: ExportConfig, manifest: dict, outcome: Verdict, metrics, scheme) -> ExportResult:
    """Publish a verified bundle (or an unverified one under --keep-unverified, still an error)."""
    if not outcome.passed and not cfg.keep_unverified:
        raise _verification_error(outcome.failures, metrics, scheme.name)
    publish(stage, cfg.output, cfg.force)
    if not outcome.passed:
        raise _verification_error(outcome.failures, metrics, scheme.name, kept=cfg.output)
    return ExportResult(cfg.output, manifest, outcome.passed)


def package(stage: Path, cfg: ExportConfig, log: StageLog, resolved: "Resolved", tokenizer, generation_config,
            source_info: dict, spec, artifact, outcome: Verdict, metrics, verify_section: dict,
            clinical: dict | None = None) -> dict:
    """Tokenizer, generation settings and the manifest (the last file written) into the staging folder."""
    config, scheme, target, fit, verdict = (resolved.config, resolved.scheme, resolved.target, resolved.fit,
                                            resolved.verdict)
    with log.stage("package", "tokenizer, generation settings, manifest"):
        tokenizer.save_pretrained(stage)
        generation = write_generation(stage, generation_config, tokenizer, resolved.max_positions)
        if hasattr(backend := BACKENDS.get(cfg.format), "package"):  # configs a stock runtime reads (ONNX: GenAI's)
            artifact.files += backend.package(stage, spec, generation)
        body = {
            "verified": outcome.passed,
            "source": source_info,
            "arch": {"model_type": config.model_type, "family": ARCHS.get(config.model_type).family,
                     "spec": vars(spec)},
            "target": {"name": target.name, "reference_device": target.reference_device},
            "format": cfg.format,
            "quant": {"scheme": scheme.manifest_record(cfg.format), "native": artifact.quant},
            "io": artifact.io,
            "kernels": artifact.kernels,
            "fallbacks": [f.to_dict() for f in artifact.fallbacks],
            "generation": generation,
            "fit": {"estimate": vars(fit), "verdict": vars(verdict)},
            "verify": {"passed": outcome.passed, "failures": list(outcome.failures), "metrics": metrics.to_dict(),
                       "tolerance": vars(tolerance_for(scheme.name)), "prompts": list(VERIFY_PROMPTS),
                       **verify_section},
            **({"clinical": clinical} if clinical else {}),
            "stage_seconds": dict(log.timings),
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()},
        }
        return write_manifest(stage, body)


@dataclass
class Resolved:
    """What the resolve stage established: the source, its config, the sequence length and the fit."""

    source: object
    config: object
    max_positions: int
    fit: object
    verdict: object
    target: object
    scheme: object


def _resolve(cfg: ExportConfig, scheme, target) -> Resolved:
    source = resolve(cfg.model, cfg.allow_pickle)
    if source.path is None and source.catalog is not None:
        # A catalog model is checked against the target from its recorded facts, before any download.
        facts = ModelFacts.from_catalog(source.catalog)
        require_fit(estimate(facts, scheme, min(cfg.max_seq_len, facts.max_context)), target,
                    source.label, scheme.name)
    source = prepare_folder(source, cfg.allow_pickle)
    config = load_config(source, cfg.trust_remote_code)
    max_positions = _max_positions(config, cfg.max_seq_len)
    fit = estimate(ModelFacts.from_hf_config(config), scheme, max_positions)
    verdict = require_fit(fit, target, source.label, scheme.name)
    return Resolved(source, config, max_positions, fit, verdict, target, scheme)


def _verification_error(failures, metrics, scheme: str, kept: Path | None = None) -> VerificationError:
    where = (f"The bundle was kept at {kept}, marked unverified in its manifest." if kept else
             "No bundle was written; --keep-unverified writes it marked unverified.")
    return VerificationError(
        f"the {scheme} export drifted from the full-precision model: " + "; ".join(failures),
        hint=f"Try a higher-precision --quant (int8 or fp32) or a source with float weights. {where}",
        details={"metrics": metrics.to_dict(), "scheme": scheme})
