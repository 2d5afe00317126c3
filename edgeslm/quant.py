"""Quantization schemes: named, typed, one place (DESIGN.md: quant schemes registry).

A scheme says what the numbers are; each backend maps it onto its own native quantizer
(onnxruntime MatMulNBits, torchao, coremltools.optimize). Nobody here writes a quantizer by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeslm.registry import Registry


@dataclass(frozen=True)
class QuantScheme:
    name: str
    weight_bits: int  # 32 / 16 = float weights
    group_size: int | None  # None = per output channel (or no quantization for float schemes)
    symmetric: bool
    quantize_embedding: bool
    keep_float: tuple[str, ...]  # what stays in higher precision, and why it is allowed to
    description: str

    @property
    def is_float(self) -> bool:
        return self.weight_bits >= 16

    def __post_init__(self) -> None:
        if self.weight_bits not in (4, 8, 16, 32):
            raise ValueError(f"weight_bits must be 4, 8, 16 or 32, got {self.weight_bits}")
        if self.group_size is not None and self.group_size <= 0:
            raise ValueError(f"group_size must be positive, got {self.group_size}")


QUANT_SCHEMES: Registry[QuantScheme] = Registry("quant scheme", "edgeslm list quant")

for _scheme in (
    QuantScheme("fp32", 32, None, True, False, ("everything",), "float32 weights and activations: the reference"),
    QuantScheme("fp16", 16, None, True, False, ("norms",), "float16 weights and activations"),
    # Blocks of 32 rather than per channel: onnxruntime's per-channel int8 path (quantize_dynamic) also
    # quantizes activations per tensor, which on SmolLM2 gave SQNR -3.3 dB / 0% top-1; MatMulNBits 8-bit
    # blocks of 32 gave 29.5 dB / 97% (issue #3 note).
    QuantScheme("int8", 8, 32, True, True, ("norms", "biases", "rotary tables"),
                "8-bit weights, symmetric, blocks of 32 along the input dim; 8-bit embedding"),
    QuantScheme("int4", 4, 32, True, True, ("norms", "biases", "rotary tables"),
                "4-bit weights, symmetric, blocks of 32 along the input dim; 4-bit embedding; float activations"),
):
    QUANT_SCHEMES.add(_scheme.name, _scheme)


def get_scheme(name: str) -> QuantScheme:
    return QUANT_SCHEMES.get(name)
