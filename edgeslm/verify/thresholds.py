"""Verification tolerances per quant scheme: one place, each justified by a measurement.

Metrics (see metrics.py): max |Δlogit| and SQNR of the logits over every prompt position, top-1 agreement
over the prompt positions (prefill path) and over a greedy decode teacher-forced along the reference's own
continuation (the KV-cache path). Measured on the embedded default (SmolLM2-135M, 6 prompts + 16 decode steps)
and on the tiny test models; the numbers are in the issue #3 note. Never loosen one to pass an export.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeslm.errors import InternalError


@dataclass(frozen=True)
class Tolerance:
    max_abs_logit: float | None  # None: not bounded (quantized schemes move logits by design)
    min_sqnr_db: float
    min_prompt_top1: float
    min_decode_top1: float
    why: str


TOLERANCES: dict[str, Tolerance] = {
    # fp32 must be the same function: measured 6.5e-5 (SmolLM2, 30 layers), ~5e-7 (tiny models).
    "fp32": Tolerance(1e-3, 60.0, 0.99, 0.99, "same math, float32 reassociation only"),
    # fp16 activations: ~3 decimal digits per op.
    "fp16": Tolerance(None, 30.0, 0.95, 0.95, "float16 rounding"),
    # int8 blocks of 32 measured 29.5 dB / 0.97 top-1 on SmolLM2 prompts; 31.7-43.5 dB / 0.96-1.0 on the
    # tiny test models. Per-channel int8 with dynamic int8 activations (quantize_dynamic) measured -3.3 dB.
    "int8": Tolerance(None, 20.0, 0.90, 0.90, "8-bit weights"),
    # int4 blocks of 32: SmolLM2 carried over from its Q4_1 GGUF measured 26.9 dB / 0.96; the tiny random
    # test models (near-uniform logits, the worst case for argmax agreement) 9.2-19.4 dB / 0.60-1.0. The
    # drift this gate exists for, SmolLM2's Q4_1 weights re-rounded onto a new int4 grid, measured
    # 7.5 dB / 0.36 and must fail.
    "int4": Tolerance(None, 9.0, 0.60, 0.60, "4-bit weights"),
}


def tolerance_for(scheme: str) -> Tolerance:
    if scheme not in TOLERANCES:
        raise InternalError(f"no verification tolerance for quant scheme {scheme!r}",
                            hint="Add one to edgeslm/verify/thresholds.py with the measurement behind it.")
    return TOLERANCES[scheme]


# Lowering exactness (the streaming export's check (a)): the bundle's graph and stored bytes, run with float32
# arithmetic in MatMulNBits, against a PyTorch run of the same weights dequantized. Only float reassociation
# separates the two, at every quant scheme and every model scale; a lowering bug (a wrong weight, a wrong
# rotary table, a missing norm) measures near 0 dB. Measured: tiny test llama int4 133 dB, max |dlogit| < 1e-6;
# TinyLlama-1.1B's shape with random weights, int4, 106 dB, max |dlogit| 2.7e-5, top-1 1.000; one projection of
# the tiny llama negated: far below (tests/test_streaming.py). 60 dB leaves room for deeper models' reassociation.
LOWERING_TOLERANCE = Tolerance(None, 60.0, 0.99, 0.99, "float32 reassociation only")

# Lowering exactness of an ExecuTorch program: the .pte as shipped against PyTorch running the quantized model it
# was lowered from with XNNPACK's own arithmetic (backends/executorch/xnnpack_arithmetic.py). XNNPACK's QD8
# kernels quantize every linear's input to int8 and have no float mode, so this is not a float-exactness check:
# one linear alone matches to 134 dB (tests/test_xnnpack_arithmetic.py), but the kernels around the linears
# (attention, norms) differ from PyTorch's in the last float bit, and wherever that moves a value across an int8
# rounding boundary the next linear sees a whole step of difference. In a deep model with random weights those
# steps compound: measured tiny test llama int4 47.0 dB, top-1 1.000; TinyLlama-1.1B's shape 22.0 dB,
# 0.848 / 0.802; MedMobile's 3.8B phi3 shape 19.2 dB, 0.759 / 0.729; MedGemma-4B's gemma3 shape (34 layers, q/k
# norms, a 262k vocabulary of near-tied random logits) 11.6 dB, 0.646 / 0.438 (BENCHMARKS.md, "Big models"). What
# a lowering bug gives is what an unrelated model gives: the same random checkpoints' float logits scored against
# the bundle measured -0.1 to 4.1 dB, top-1 0.00-0.23; one projection negated in the tiny model drops 15+ dB
# (tests/test_streaming_executorch.py). The bound sits between the two. The 4B gemma3 shape fails it on decode
# top-1 while scoring far from any bug; a bound loose enough to pass it (8 dB / 0.33 was tried) no longer caught
# the negated projection in the tiny trained model, so it stays, and that export is reported as failing (a).
EXECUTORCH_LOWERING_TOLERANCE = Tolerance(None, 10.0, 0.50, 0.50,
                                          "int8 activation rounding: XNNPACK's kernels against their arithmetic "
                                          "in PyTorch, compounded over the layers")
