"""`plan`: before any export, from the config alone (no weights), what each format x quant would cost on a target.

For every format the target lists and every quant scheme: bundle size, resident RAM at ``max_seq_len`` and the
fit verdict (both straight from ``edgeslm.fit``), then three *predictions*, never measurements:

  decode tok/s  = target.mem_bandwidth_gbs * DECODE_BANDWIDTH_EFFICIENCY / bytes read per generated token
                  bytes read per token = every weight a decode step touches (all matmul weights and the lm_head,
                  one row of the embedding table, the fp32 small tensors) + the KV cache at the average context
                  of an answer (prompt_len + gen_len / 2)
  TTFT s        = 2 * matmul params * prompt_len / (target.compute.peak_gflops * PREFILL_COMPUTE_EFFICIENCY)
  energy J      = target.power.active_w * predicted busy seconds  (per token: 1 / tok/s; per answer: TTFT +
                  gen_len / tok/s). Labelled "estimated" wherever it appears.

The decode figure is a memory-bandwidth roofline: a batch-1 decode step streams every weight once and does
two FLOPs per weight, far below any CPU's FLOP/byte balance point at int4/int8. The compute ceiling is
reported beside it so that a compute-bound case is visible, but it does not change the predicted figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from edgeslm.errors import UserError
from edgeslm.fit import MIB, ModelFacts, table_bytes, check_fit, estimate
from edgeslm.quant import QUANT_SCHEMES, QuantScheme
from edgeslm.targets import Target, get_target

if TYPE_CHECKING:
    from edgeslm.sources.resolve import ResolvedSource

# Fraction of the target's DRAM bandwidth figure a batch-1 decode step turns into weight reads. CPU decode in
# llama.cpp and onnxruntime typically reaches 40-60 % of the theoretical DRAM peak on phones and laptops
# (dequantization, activation traffic, thread synchronisation and cache misses on the KV cache take the
# rest); 0.5 is the middle of that range. UNCALIBRATED: `edgeslm profile` will fit it against host and device
# measurements. Until then every tok/s figure is a planning number, not a measurement.
DECODE_BANDWIDTH_EFFICIENCY = 0.5
# Fraction of the target's peak FP32 FLOP/s a prefill sustains. onnxruntime's MatMulNBits with float
# activations dequantizes each block and runs an SGEMM-like kernel; such kernels sustain 20-50 % of the FMA
# peak at prompt lengths of 100-1000 tokens. 0.3 is a stated guess, not yet fitted to `edgeslm profile`.
PREFILL_COMPUTE_EFFICIENCY = 0.3
# Checked, not refitted (2026-11-26, SmolLM2-135M onnx int4, prompt 128 / answer 64, `edgeslm profile` and
# `plan --target linux --calibrate`): on a 2-vCPU AMD EPYC VM shared with three other busy processes (load
# average 7-9), predicted 81.9 tok/s and TTFT 0.60 s; measured wall clock 14-15 tok/s / 1.7-2.0 s at 2 threads
# and 29-37 tok/s / 1.1-1.4 s at 1 thread, while the thread's own CPU time at 1 thread gave ~55 tok/s / 0.58 s.
# Contention, not the roofline, set the wall-clock figures, so they cannot calibrate a 2-vCPU planning figure;
# refit on an idle reference machine or a phone (profile reports carry the implied constants).
ENERGY_LABEL = "estimated"
ENERGY_METHOD = "target power figure x predicted busy time"
DEFAULT_PROMPT_LEN = 128
DEFAULT_GEN_LEN = 64
STATUS_OK = "ok"
STATUS_NOT_BUILT = "not built yet"


@dataclass(frozen=True)
class Energy:
    joules: float
    label: str = ENERGY_LABEL
    method: str = ENERGY_METHOD


@dataclass(frozen=True)
class PlanRow:
    format: str
    quant: str
    status: str  # "ok" or "not built yet"
    bundle_mb: float
    runtime_ram_mb: float
    weights_mb: float
    kv_cache_mb: float
    activations_mb: float
    runtime_overhead_mb: float
    fits: bool
    margin_mb: float  # available - needed; negative when it does not fit
    decode_bytes_per_token: int
    decode_tok_s: float  # predicted, bandwidth roofline
    decode_compute_ceiling_tok_s: float | None  # what the compute peak alone would allow
    ttft_s: float | None  # predicted, compute bound; None without a peak FLOP/s for the target
    energy_per_token: Energy
    energy_per_answer: Energy | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    model: str
    facts_source: str  # "catalog" or "config"
    target: str
    max_seq_len: int
    prompt_len: int
    gen_len: int
    available_mb: float
    rows: tuple[PlanRow, ...]
    skipped: tuple[dict, ...]  # {"format", "quant", "reason"}: combinations a built backend refuses
    assumptions: dict = field(default_factory=dict)
    host_export: tuple[dict, ...] = ()  # per format: can THIS host export it (pipeline/memory.HostForecast)

    def to_dict(self) -> dict:
        return asdict(self)


def decode_bytes_per_token(facts: ModelFacts, scheme: QuantScheme, max_seq_len: int, avg_context: float) -> int:
    """Bytes one decode step reads: weights (the embedding table only one row: a Gather) + KV at avg_context."""
    fit = estimate(facts, scheme, max_seq_len)
    table = table_bytes(facts, scheme)
    weights = fit.weights_bytes - table + table // facts.vocab
    kv_per_position = fit.kv_cache_bytes / max_seq_len
    return int(weights + kv_per_position * avg_context)


def prefill_flops(facts: ModelFacts, prompt_len: int) -> float:
    """2 FLOPs per matmul weight per prompt token; the lm_head runs on every position (prefill returns logits
    for each). The embedding lookup costs no FLOPs; the attention score term (<5 % at 128 tokens for these
    models) is left out."""
    matmul_params = facts.linear_params + facts.vocab * facts.hidden
    return 2.0 * matmul_params * prompt_len


def _mb(n: int) -> float:
    return round(n / MIB, 1)


def plan_facts(facts: ModelFacts, target: Target, *, model_label: str, facts_source: str, max_seq_len: int,
               prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN) -> Plan:
    from edgeslm.backends import BACKENDS

    from edgeslm.pipeline.config import MIN_MAX_SEQ_LEN

    for name, value in (("--prompt-len", prompt_len), ("--gen-len", gen_len), ("--max-seq-len", max_seq_len)):
        if value <= 0:
            raise UserError(f"{name} must be positive, got {value}")
    if max_seq_len < MIN_MAX_SEQ_LEN:
        raise UserError(f"--max-seq-len must be at least {MIN_MAX_SEQ_LEN} (as for export), got {max_seq_len}",
                        hint="It is the longest prompt + answer the bundle serves, e.g. --max-seq-len 2048.")
    if prompt_len + gen_len > max_seq_len:
        raise UserError(f"--prompt-len {prompt_len} + --gen-len {gen_len} = {prompt_len + gen_len} tokens does not "
                        f"fit in --max-seq-len {max_seq_len}",
                        hint=f"Raise --max-seq-len to at least {prompt_len + gen_len}, or shorten the prompt/answer.")
    avg_context = prompt_len + gen_len / 2
    peak = target.compute
    bandwidth = target.mem_bandwidth_gbs * 1e9 * DECODE_BANDWIDTH_EFFICIENCY
    flops_rate = peak.peak_gflops * 1e9 * PREFILL_COMPUTE_EFFICIENCY if peak else None
    ttft = prefill_flops(facts, prompt_len) / flops_rate if flops_rate else None
    decode_flops = prefill_flops(facts, 1)
    power = target.power.active_w

    rows: list[PlanRow] = []
    skipped: list[dict] = []
    for fmt in target.formats:
        backend = BACKENDS.get(fmt) if fmt in BACKENDS else None
        for scheme in sorted((s for _, s in QUANT_SCHEMES.items()), key=lambda s: -s.weight_bits):  # fp32 first
            notes: list[str] = []
            if backend is None:
                status = STATUS_NOT_BUILT
            else:
                support = backend.supports(facts.model_type, scheme)
                if not support.ok:
                    skipped.append({"format": fmt, "quant": scheme.name, "reason": support.reason})
                    continue
                status = STATUS_OK
            fit = estimate(facts, scheme, max_seq_len)
            verdict = check_fit(fit, target)
            nbytes = decode_bytes_per_token(facts, scheme, max_seq_len, avg_context)
            tok_s = bandwidth / nbytes
            ceiling = flops_rate / decode_flops if flops_rate else None
            if ceiling is not None and ceiling < tok_s:
                notes.append(f"compute may bind before bandwidth: ~{ceiling:.1f} tok/s at the prefill efficiency")
            if ttft is None:
                notes.append(f"no [compute] peak FLOP/s in target {target.name!r}: no TTFT or energy per answer")
            busy_answer = ttft + gen_len / tok_s if ttft is not None else None
            rows.append(PlanRow(
                format=fmt, quant=scheme.name, status=status, bundle_mb=_mb(fit.bundle_bytes),
                runtime_ram_mb=_mb(fit.runtime_bytes), weights_mb=_mb(fit.weights_bytes),
                kv_cache_mb=_mb(fit.kv_cache_bytes), activations_mb=_mb(fit.activation_bytes),
                runtime_overhead_mb=_mb(fit.runtime_overhead_bytes), fits=verdict.fits, margin_mb=verdict.margin_mb,
                decode_bytes_per_token=nbytes, decode_tok_s=round(tok_s, 2),
                decode_compute_ceiling_tok_s=round(ceiling, 2) if ceiling is not None else None,
                ttft_s=round(ttft, 3) if ttft is not None else None,
                energy_per_token=Energy(round(power / tok_s, 4)),
                energy_per_answer=Energy(round(power * busy_answer, 2)) if busy_answer is not None else None,
                notes=tuple(notes)))
    assumptions = {
        "basis": "predicted from the model config and the target file; nothing here is measured",
        "decode": "tok/s = mem_bandwidth_gbs * DECODE_BANDWIDTH_EFFICIENCY / bytes read per token "
                  f"(weights + KV cache at the average context {avg_context:g} tokens)",
        "decode_bandwidth_efficiency": DECODE_BANDWIDTH_EFFICIENCY,
        "decode_efficiency_calibrated": False,
        "mem_bandwidth_gbs": target.mem_bandwidth_gbs,
        "prefill": "TTFT = 2 * matmul params * prompt_len / (peak FLOP/s * PREFILL_COMPUTE_EFFICIENCY)",
        "prefill_compute_efficiency": PREFILL_COMPUTE_EFFICIENCY,
        "peak_gflops": peak.peak_gflops if peak else None,
        "peak_gflops_source": peak.source if peak else None,
        "energy": f"{ENERGY_LABEL}: {ENERGY_METHOD}",
        "power_active_w": power,
        "power_source": target.power.source,
        "sizes": "edgeslm.fit.estimate (ONNX layout; the same estimate is shown for formats not built yet)",
    }
    return Plan(model=model_label, facts_source=facts_source, target=target.name, max_seq_len=max_seq_len,
                prompt_len=prompt_len, gen_len=gen_len, available_mb=float(target.available_mb), rows=tuple(rows),
                skipped=tuple(skipped), assumptions=assumptions)


def model_facts(source: ResolvedSource, trust_remote_code: bool = False) -> tuple[ModelFacts, str]:
    """Facts without weights: the catalog's when the model is in it (no download, no torch), else its local
    config on the meta device. A hub id outside the catalog would need a download, so it is refused."""
    if source.catalog is not None:
        return ModelFacts.from_catalog(source.catalog), "catalog"
    if source.path is None:
        raise UserError(f"{source.label} is not in the catalog and not on disk: plan reads no weights and "
                        "downloads nothing",
                        hint="Pass a local model folder or .gguf file, or a catalog id (`edgeslm list models`).")
    from edgeslm.sources.load import load_config

    return ModelFacts.from_hf_config(load_config(source, trust_remote_code)), "config"


def make_plan(model: str | None, target_name: str, max_seq_len: int, prompt_len: int = DEFAULT_PROMPT_LEN,
              gen_len: int = DEFAULT_GEN_LEN, trust_remote_code: bool = False) -> Plan:
    """Resolve ``model`` (None = the embedded default) and plan it on ``target_name``."""
    from edgeslm.sources.resolve import resolve

    target = get_target(target_name)  # unknown names: UserError with the nearest names
    source = resolve(model)
    facts, facts_source = model_facts(source, trust_remote_code)
    # Like export: a context longer than the model's own is clipped to it.
    seq = min(max_seq_len, facts.max_context) if facts.max_context else max_seq_len
    plan = plan_facts(facts, target, model_label=source.label, facts_source=facts_source, max_seq_len=seq,
                      prompt_len=prompt_len, gen_len=gen_len)
    from dataclasses import asdict, replace

    from edgeslm.pipeline.memory import host_forecast

    formats = dict.fromkeys(r.format for r in plan.rows)
    plan = replace(plan, host_export=tuple(asdict(host_forecast(facts.exported_params, f)) for f in formats))
    if seq < max_seq_len:
        plan.assumptions["max_seq_len_clipped"] = f"--max-seq-len {max_seq_len} clipped to the model's context {seq}"
    return plan
