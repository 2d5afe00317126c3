"""The streaming export: a model larger than memory, one weight and one decoder layer at a time.

Stages as in pipeline/export.py, with the whole-model steps replaced:
  load    -> the checkpoint's headers only (lazy tensors) and a meta-device skeleton of the decoder;
  lower   -> the backend's `lower_streamed`: ONNX traces once, quantizes and writes node by node
             (backends/onnx/stream.py); ExecuTorch quantizes layer by layer while loading, then lowers the
             quantized model (backends/executorch/stream.py);
  verify  -> two parts, both from the same run of the bundle (its own greedy continuation of each prompt):
             (a) lowering exactness: the bundle against a PyTorch run of the very weights it stores (the
                 backend's `LoweringCheck`, judged by its own tolerance: float-exact for ONNX; for ExecuTorch,
                 whose kernels always round activations to int8, a statistical bound): random weights included;
             (b) quantization drift: against a layer-by-layer run of the float checkpoint, judged by the
                 scheme's tolerance like every export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgeslm.archs import ARCHS
from edgeslm.backends import BACKENDS
from edgeslm.backends.base import LoweringCheck, Runner
from edgeslm.bundle.writer import staging_folder
from edgeslm.model.skeleton import skeleton
from edgeslm.pipeline.memory import return_freed_memory
from edgeslm.sources.lazy_weights import canonical_lazy_weights
from edgeslm.sources.load import SourceInfo
from edgeslm.verify.check import Verdict, judge
from edgeslm.verify.layerwise import layerwise_logits
from edgeslm.verify.metrics import score, teacher_forced
from edgeslm.verify.own_path import greedy_outputs, references_along
from edgeslm.verify.prompts import VERIFY_PROMPTS
from edgeslm.verify.thresholds import tolerance_for


def _load(resolved, cfg):
    from transformers import AutoTokenizer, GenerationConfig

    source, config = resolved.source, resolved.config
    lazy = canonical_lazy_weights(ARCHS.get(config.model_type), config, source.path)
    tokenizer = AutoTokenizer.from_pretrained(source.path, trust_remote_code=False)
    try:
        generation_config = GenerationConfig.from_pretrained(source.path)
    except OSError:
        generation_config = GenerationConfig.from_model_config(config)
    files = [p for p in source.path.iterdir() if p.is_file()]
    info = SourceInfo.of(source, files, source.path)
    return skeleton(config, lazy, resolved.max_positions), tokenizer, generation_config, info


def _prompt_ids(tokenizer, max_positions: int, decode_tokens: int) -> list[np.ndarray]:
    return [np.asarray(tokenizer(p).input_ids[: max_positions - decode_tokens - 1], dtype=np.int64)
            for p in VERIFY_PROMPTS]


def run_stream_export(cfg, log, resolved):
    from edgeslm.pipeline.export import conclude, package, report_fallbacks

    scheme = resolved.scheme
    with log.stage("load", f"{resolved.source.label} (headers only: streamed)"):
        skel, tokenizer, generation_config, info = _load(resolved, cfg)
    spec = skel.spec

    backend = BACKENDS.get(cfg.format)
    with staging_folder(cfg.output) as stage:
        how, unit = backend.streamed_how
        with log.stage("lower", f"{cfg.format} {scheme.name}, streamed {how}"):
            artifact, check = backend.lower_streamed(skel, scheme, stage,
                                                     lambda done, total: log.progress(done, total, unit))
        report_fallbacks(cfg, log, artifact.fallbacks)
        return_freed_memory()  # what lowering built and dropped (the traced and partitioned programs)

        what = f"{len(VERIFY_PROMPTS)} prompts + {cfg.verify_decode_tokens} decode steps each, layer by layer"
        with log.stage("verify", what):
            result = two_part_verify(skel, tokenizer, lambda: backend.runner(stage, artifact.io, cfg.threads), check,
                                     scheme.name, cfg.verify_decode_tokens, resolved.max_positions, cfg.threads, log)
            del check
        for part in ("lowering_exactness", "quantization_drift"):
            section, m = result.section[part], result.section[part]["metrics"]
            log.note(f"verify {part.replace('_', ' ')}: {'passed' if section['passed'] else 'FAILED'} "
                     f"(SQNR {m['sqnr_db']:.1f} dB, top-1 {m['prompt_top1']:.3f} / {m['decode_top1']:.3f})")
        outcome, metrics = result.outcome, result.metrics
        verify_section = {"runtime": result.runtime or f"host {backend.name}", **result.section}
        manifest = package(stage, cfg, log, resolved, tokenizer, generation_config, vars(info), spec, artifact,
                           outcome, metrics, verify_section)
        return conclude(stage, cfg, manifest, outcome, metrics, scheme)


@dataclass
class TwoPartResult:
    outcome: Verdict  # both parts
    metrics: object  # quantization drift (the manifest's verify.metrics, as for every export)
    section: dict  # the manifest's verify entries for both parts
    runtime: str | None = None  # what ran the bundle, where not the backend's own runtime on this host


def two_part_verify(skel, tokenizer, open_shipped: Callable[[], Runner], check: LoweringCheck, scheme: str,
                    decode_tokens: int, max_positions: int, threads: int | None = None, log=None) -> TwoPartResult:
    """(a) lowering exactness and (b) quantization drift, along one greedy run of the bundle (`open_shipped()`, the
    backend's runner, or the check's own `shipped_runner` where this host cannot run the backend's runtime).

    Memory: one big thing at a time. The shipped runner is closed once its greedy run is recorded, and the check's
    reference is let go once (a)'s logits are computed (`stored_logits_once`), before (b) loads the float shell:
    at 4B the three together did not fit 24 GB (BENCHMARKS.md, "ExecuTorch streams too").

    (b) scores the bundle as shipped against the float checkpoint. (a) compares the bundle with a PyTorch run of
    the weights it stores (`check`, from the backend): run with `check.exact_runner` where the shipped kernels'
    arithmetic is not what that reference reproduces (ONNX: int8 activation blocks in MatMulNBits, so (a) runs
    float32 arithmetic and records how far the shipped arithmetic moves the logits beside it).
    """
    prompts = _prompt_ids(tokenizer, max_positions, decode_tokens)
    stand_in = check.runtime if check.shipped_runner is not None else None
    shipped = check.shipped_runner(threads) if check.shipped_runner is not None else open_shipped()
    own = greedy_outputs(shipped, VERIFY_PROMPTS, prompts, decode_tokens)
    del shipped
    return_freed_memory()
    if check.exact_runner is not None:
        exact_runner = check.exact_runner(threads)
        exact_runs = [teacher_forced(exact_runner, run) for run in own]
        del exact_runner
    else:
        exact_runs = own
    sequences = [np.concatenate([o.input_ids, o.continuation]) for o in own]

    def progress(offset: int):
        return (lambda d, t: log.progress(offset * t + d, 2 * t, "layers")) if log else None

    stored_refs = references_along(own, check.stored_logits_once(sequences, progress(0)))
    return_freed_memory()
    exact = score(exact_runs, stored_refs)
    drift = score(own, references_along(own, layerwise_logits(skel.decoder, lambda n: skel.values[n](), sequences,
                                                             progress(1))))
    exact_verdict, drift_verdict = judge(exact, check.tolerance), judge(drift, tolerance_for(scheme))
    outcome = Verdict(exact_verdict.passed and drift_verdict.passed,
                      tuple(f"lowering exactness: {f}" for f in exact_verdict.failures) + drift_verdict.failures)
    section = {
        "continuation": "the bundle's own greedy tokens (streamed references run whole sequences)",
        "lowering_exactness": {"passed": exact_verdict.passed, "failures": list(exact_verdict.failures),
                               "metrics": exact.to_dict(), "tolerance": vars(check.tolerance),
                               "reference": check.reference, "runtime": check.runtime},
        "quantization_drift": {"passed": drift_verdict.passed, "failures": list(drift_verdict.failures),
                               "metrics": drift.to_dict(),
                               "reference": "layer-by-layer PyTorch run of the float checkpoint"},
    }
    if check.exact_runner is not None:
        section["runtime_arithmetic"] = {
            "metrics": score(own, stored_refs).to_dict(),
            "what": "the bundle as shipped (its runtime's own arithmetic) against the same reference"}
    return TwoPartResult(outcome, drift, section, stand_in)


def reverify_streamed(manifest: dict, source_folder, bundle, decode: int, threads: int | None = None) -> dict:
    """`edgeslm verify` of a streamed bundle: the same two parts, streamed again from the source checkpoint."""
    from transformers import AutoConfig, AutoTokenizer

    from edgeslm.quant import get_scheme

    config = AutoConfig.from_pretrained(source_folder)
    max_positions = manifest["generation"]["max_positions"]
    skel = skeleton(config, canonical_lazy_weights(ARCHS.get(config.model_type), config, source_folder),
                    max_positions)
    tokenizer = AutoTokenizer.from_pretrained(source_folder, trust_remote_code=False)
    scheme = manifest["quant"]["scheme"]["name"]
    backend = BACKENDS.get(manifest["format"])
    check = backend.lowering_check(skel, get_scheme(scheme), bundle)
    result = two_part_verify(skel, tokenizer, lambda: backend.runner(bundle, manifest["io"], threads), check, scheme,
                             decode, max_positions, threads)
    return {"passed": result.outcome.passed, "failures": list(result.outcome.failures),
            "metrics": result.metrics.to_dict(), "scheme": scheme, "runtime": result.runtime or f"host {backend.name}",
            "lowering_exactness": result.section["lowering_exactness"]}
