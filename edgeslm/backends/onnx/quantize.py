"""Map edgeslm quant schemes onto onnxruntime's own quantizers (no hand-written quantizer here).

- int4 / int8: MatMulNBits, symmetric blocks of 32 along K, for every MatMul with a constant weight
  (lm_head included, untied) and GatherBlockQuantized for the embedding.
- fp32: unchanged.
"""

from __future__ import annotations

import contextlib
import logging

import onnx

from edgeslm.backends.onnx.embedding_q8 import quantize_gathers_q8_0

from edgeslm.errors import UnsupportedError
from edgeslm.quant import QuantScheme

ACCURACY_LEVEL = 4  # int8 compute for MatMulNBits on CPU: the fast path on x86 and arm64 (see the note)


def quantize_nbits(model: onnx.ModelProto, scheme: QuantScheme, skip: list[str]) -> tuple[onnx.ModelProto, dict]:
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    ops = ("MatMul", "Gather") if scheme.quantize_embedding and scheme.weight_bits == 4 else ("MatMul",)
    config = DefaultWeightOnlyQuantConfig(
        block_size=scheme.group_size, is_symmetric=scheme.symmetric, accuracy_level=ACCURACY_LEVEL,
        op_types_to_quantize=ops, quant_axes=(("MatMul", 0), ("Gather", 1)), bits=scheme.weight_bits)
    quantizer = MatMulNBitsQuantizer(model, nodes_to_exclude=skip, algo_config=config)
    with _quiet("onnxruntime.quantization.matmul_nbits_quantizer"):
        quantizer.process()
    quantized = quantizer.model.model
    embedding = "com.microsoft.GatherBlockQuantized" if scheme.quantize_embedding else "float"
    if scheme.quantize_embedding and scheme.weight_bits == 8:
        quantized, _tables = quantize_gathers_q8_0(quantized)  # the ORT quantizer does Gather at 4 bits only
        embedding += " (8-bit blocks from gguf's Q8_0 quantizer)"
    native = {"quantizer": "onnxruntime MatMulNBitsQuantizer (RTN)", "op": "com.microsoft.MatMulNBits",
              "bits": scheme.weight_bits, "block_size": scheme.group_size, "symmetric": scheme.symmetric,
              "accuracy_level": ACCURACY_LEVEL,
              "embedding": embedding}
    return quantized, native


@contextlib.contextmanager
def _quiet(name: str):
    """The quantizer logs every node at INFO; progress belongs to our own console."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def quantize(model: onnx.ModelProto, scheme: QuantScheme, skip: list[str]) -> tuple[onnx.ModelProto, dict]:
    if scheme.name == "fp32":
        return model, {"quantizer": "none", "dtype": "float32"}
    if scheme.name in ("int4", "int8"):
        return quantize_nbits(model, scheme, skip)
    raise UnsupportedError(f"the onnx format has no {scheme.name} path", hint="Use --quant int4, int8 or fp32.")
