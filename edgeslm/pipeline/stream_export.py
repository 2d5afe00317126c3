"""The streaming export: a model larger than memory, one weight and one decoder layer at a time.

Stages as in pipeline/export.py, with the whole-model steps replaced:
  load    -> the checkpoint's headers only (lazy tensors) and a meta-device skeleton of the decoder;
  lower   -> backends/onnx/stream.py: trace once, quantize and write node by node;
  verify  -> two parts, both from the same run of the bundle (its own greedy continuation of each prompt):
             (a) lowering exactness: the bundle against a layer-by-layer PyTorch run of the very weights it
                 stores (dequantized): must agree at any scale and any quant, random weights included;
             (b) quantization drift: against a layer-by-layer run of the float checkpoint, judged by the
                 scheme's tolerance like every export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgeslm.archs import ARCHS
from edgeslm.backends.base import Fallback
from edgeslm.backends.onnx.backend import onnx_artifact
from edgeslm.backends.onnx.lower import io_layout
from edgeslm.backends.onnx.runner import MODEL_FILE, OnnxRunner
from edgeslm.backends.onnx.stored_weights import StoredWeights
from edgeslm.backends.onnx.stream import lower_streaming
from edgeslm.bundle.writer import staging_folder
from edgeslm.model.skeleton import skeleton
from edgeslm.sources.lazy_weights import canonical_lazy_weights
from edgeslm.sources.load import SourceInfo
from edgeslm.verify.check import Verdict, judge
from edgeslm.verify.layerwise import layerwise_logits
from edgeslm.verify.metrics import score, teacher_forced
from edgeslm.verify.own_path import greedy_outputs, references_along
from edgeslm.verify.prompts import VERIFY_PROMPTS
from edgeslm.verify.thresholds import LOWERING_TOLERANCE, tolerance_for


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

    with staging_folder(cfg.output) as stage:
        with log.stage("lower", f"{cfg.format} {scheme.name}, streamed weight by weight"):
            proto, native, kernel_fallbacks = lower_streaming(
                skel, scheme, stage, MODEL_FILE, lambda done, total: log.progress(done, total, "weights"))
            native["streamed"] = True
            artifact = onnx_artifact(proto, io_layout(skel.decoder), native,
                                     [Fallback("attention rotary", why) for why in kernel_fallbacks.values()], scheme)
            del proto
        report_fallbacks(cfg, log, artifact.fallbacks)

        what = f"{len(VERIFY_PROMPTS)} prompts + {cfg.verify_decode_tokens} decode steps each, layer by layer"
        with log.stage("verify", what):
            result = two_part_verify(skel, tokenizer, stage, scheme.name, cfg.verify_decode_tokens,
                                     resolved.max_positions, cfg.threads, log)
        for part in ("lowering_exactness", "quantization_drift"):
            section, m = result.section[part], result.section[part]["metrics"]
            log.note(f"verify {part.replace('_', ' ')}: {'passed' if section['passed'] else 'FAILED'} "
                     f"(SQNR {m['sqnr_db']:.1f} dB, top-1 {m['prompt_top1']:.3f} / {m['decode_top1']:.3f})")
        outcome, metrics = result.outcome, result.metrics
        verify_section = {"runtime": "host onnx", **result.section}
        manifest = package(stage, cfg, log, resolved, tokenizer, generation_config, vars(info), spec, artifact,
                           outcome, metrics, verify_section)
        return conclude(stage, cfg, manifest, outcome, metrics, scheme)


@dataclass
class TwoPartResult:
    outcome: Verdict  # both parts
    metrics: object  # quantization drift (the manifest's verify.metrics, as for every export)
    section: dict  # the manifest's verify entries for both parts


def two_part_verify(skel, tokenizer, bundle, scheme: str, decode_tokens: int, max_positions: int,
                    threads: int | None = None, log=None) -> TwoPartResult:
    """(a) lowering exactness and (b) quantization drift, along one greedy run of the bundle.

    (b) scores the bundle as shipped against the float checkpoint. (a) runs the same graph and stored bytes
    with float32 arithmetic in MatMulNBits (the shipped kernels quantize activations to int8 blocks, which is
    runtime arithmetic, not lowering) against the dequantized stored weights in PyTorch: float tolerance,
    at any scale, any quant, random weights included. How far the int8 activation blocks move the logits is
    recorded beside it.
    """
    prompts = _prompt_ids(tokenizer, max_positions, decode_tokens)
    own = greedy_outputs(OnnxRunner(bundle, threads), VERIFY_PROMPTS, prompts, decode_tokens)
    exact_runner = OnnxRunner(bundle, threads, exact_arithmetic=True)
    exact_runs = [teacher_forced(exact_runner, run) for run in own]
    del exact_runner
    sequences = [np.concatenate([o.input_ids, o.continuation]) for o in own]
    stored = StoredWeights(bundle / MODEL_FILE)

    def stored_value(name: str) -> torch.Tensor:
        return torch.from_numpy(stored.weight(name)) if name in stored else skel.values[name]()

    def progress(offset: int):
        return (lambda d, t: log.progress(offset * t + d, 2 * t, "layers")) if log else None

    stored_refs = references_along(own, layerwise_logits(skel.decoder, stored_value, sequences, progress(0)))
    exact, arithmetic = score(exact_runs, stored_refs), score(own, stored_refs)
    drift = score(own, references_along(own, layerwise_logits(skel.decoder, lambda n: skel.values[n](), sequences,
                                                             progress(1))))
    exact_verdict, drift_verdict = judge(exact, LOWERING_TOLERANCE), judge(drift, tolerance_for(scheme))
    outcome = Verdict(exact_verdict.passed and drift_verdict.passed,
                      tuple(f"lowering exactness: {f}" for f in exact_verdict.failures) + drift_verdict.failures)
    section = {
        "continuation": "the bundle's own greedy tokens (streamed references run whole sequences)",
        "lowering_exactness": {"passed": exact_verdict.passed, "failures": list(exact_verdict.failures),
                               "metrics": exact.to_dict(), "tolerance": vars(LOWERING_TOLERANCE),
                               "reference": "layer-by-layer PyTorch run of the bundle's stored weights",
                               "runtime": "the bundle's graph and bytes, MatMulNBits in float32 arithmetic"},
        "runtime_arithmetic": {"metrics": arithmetic.to_dict(),
                               "what": "the shipped kernels (int8 activation blocks) against the same reference"},
        "quantization_drift": {"passed": drift_verdict.passed, "failures": list(drift_verdict.failures),
                               "metrics": drift.to_dict(),
                               "reference": "layer-by-layer PyTorch run of the float checkpoint"},
    }
    return TwoPartResult(outcome, drift, section)


def reverify_streamed(manifest: dict, source_folder, bundle, decode: int, threads: int | None = None) -> dict:
    """`edgeslm verify` of a streamed bundle: the same two parts, streamed again from the source checkpoint."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(source_folder)
    max_positions = manifest["generation"]["max_positions"]
    skel = skeleton(config, canonical_lazy_weights(ARCHS.get(config.model_type), config, source_folder),
                    max_positions)
    tokenizer = AutoTokenizer.from_pretrained(source_folder, trust_remote_code=False)
    scheme = manifest["quant"]["scheme"]["name"]
    result = two_part_verify(skel, tokenizer, bundle, scheme, decode, max_positions, threads)
    return {"passed": result.outcome.passed, "failures": list(result.outcome.failures),
            "metrics": result.metrics.to_dict(), "scheme": scheme,
            "lowering_exactness": result.section["lowering_exactness"]}
