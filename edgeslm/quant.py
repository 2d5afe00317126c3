"""Quantization schemes: named, typed, one place (ARCHITECTURE.md: quant schemes registry).

A scheme says what the numbers are; each backend maps it onto its own native quantizer
(onnxruntime MatMulNBits, torchao, coremltools.optimize). Nobody here writes a quantizer by hand.
Where a backend's kernels run something other than the scheme's `description` (ExecuTorch's int4 is torchao's
8-bit dynamic activations x int4 weights; Core ML's int8 is per output channel), `runs_as` says what runs, and
the manifest records it next to the scheme.
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
    # (format, what that backend's kernels run) where it differs from `description`; read from each backend's own
    # quantize code (edgeslm/backends/<format>/quantize.py or convert.py), checked against it by tests/test_quant.py.
    runs_as: tuple[tuple[str, str], ...] = ()

    @property
    def is_float(self) -> bool:
        return self.weight_bits >= 16

    def description_for(self, fmt: str) -> str:
        """What a `fmt` bundle of this scheme runs."""
        return dict(self.runs_as).get(fmt, self.description)

    def manifest_record(self, fmt: str) -> dict:
        """The scheme as the manifest records it for a `fmt` bundle: its fields, what runs, and whether that
        deviates from the scheme's own description."""
        record = {k: v for k, v in vars(self).items() if k != "runs_as"}
        record["runs_as"] = self.description_for(fmt)
        record["deviates"] = fmt in dict(self.runs_as)
        return record

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
                "8-bit weights, symmetric, blocks of 32 along the input dim; 8-bit embedding",
                runs_as=(
                    ("onnx", "8-bit weights, symmetric, blocks of 32 along the input dim (MatMulNBits; activations "
                             "quantized to int8 per block inside it, accuracy_level 4); 8-bit embedding "
                             "(GatherBlockQuantized, Q8_0 blocks)"),
                    ("executorch", "8-bit dynamic per-token activations x 8-bit symmetric weights per output channel "
                                   "(torchao Int8DynamicActivationIntxWeightConfig, XNNPACK QD8 x QC8W); 8-bit "
                                   "embedding in groups of 32"),
                    ("coreml", "8-bit symmetric weights per output channel (linear and embedding gather); float16 "
                               "activations and compute"),
                )),
    QuantScheme("int4", 4, 32, True, True, ("norms", "biases", "rotary tables"),
                "4-bit weights, symmetric, blocks of 32 along the input dim; 4-bit embedding; float activations",
                runs_as=(
                    ("onnx", "4-bit weights, symmetric, blocks of 32 along the input dim (MatMulNBits; activations "
                             "quantized to int8 per block inside it, accuracy_level 4); 4-bit embedding "
                             "(GatherBlockQuantized)"),
                    ("executorch", "8-bit dynamic per-token activations x 4-bit symmetric weights in groups of 32 "
                                   "(torchao 8da4w, XNNPACK QD8 x QB4W); 8-bit embedding in groups of 32 "
                                   "(ExecuTorch's 4-bit embedding has no XNNPACK kernel)"),
                    ("coreml", "4-bit symmetric weights in blocks of 32 (linear and embedding gather); float16 "
                               "activations and compute"),
                )),
):
    QUANT_SCHEMES.add(_scheme.name, _scheme)


def get_scheme(name: str) -> QuantScheme:
    return QUANT_SCHEMES.get(name)
