"""The ExecuTorch side of a streaming export: the quantized model built one decoder layer at a time.

ExecuTorch lowers one whole program (torch.export, XNNPACK partitioning, serialization), so every weight is
in memory when it lowers; what a big model cannot afford is the float copy of all of them (plus the adapted
copy and the HF model: ~13 bytes per parameter in memory). Here each layer is read from the lazy checkpoint,
rewritten for XNNPACK and quantized before the next is read: the float weights of one layer at a time, and
the quantized model (int4 weights held unpacked as int8 by torchao, ~1.1 bytes per parameter) is what
lowers. Same modules, same quantizer, same order as the in-memory path (backends/executorch/quantize.py):
a model that fits gives the same program either way (tests/test_streaming_executorch.py).

The quantized model stays in memory after lowering: it is the reference of the lowering-exactness check
(the bundle against a PyTorch run of the very weights it stores, in XNNPACK's arithmetic: xnnpack_arithmetic.py).
"""

from __future__ import annotations

from typing import Callable

import torch

from edgeslm.backends.base import Fallback
from edgeslm.backends.executorch.quantize import finish_quantized, quantize_linears
from edgeslm.backends.executorch.rewrite import rewrite_in_place
from edgeslm.model.decoder import EdgeDecoder
from edgeslm.model.skeleton import Skeleton, layer_by_layer
from edgeslm.quant import QuantScheme


def quantized_from_skeleton(skel: Skeleton, scheme: QuantScheme,
                            progress: Callable[[int, int], None] | None = None
                            ) -> tuple[EdgeDecoder, dict, list[Fallback]]:
    """(the quantized model to lower, the manifest's native record, fallbacks), one float layer at a time.
    `scheme` quantizes (the backend's stream_blocker refuses a float one before this runs)."""
    skipped: list[Fallback] = []

    def prepare(module: torch.nn.Module, prefix: str) -> torch.nn.Module:
        module = rewrite_in_place(module)
        quantize_linears(module, scheme, skipped, prefix=prefix)
        return module

    model = layer_by_layer(skel, prepare, progress)
    native, fallbacks = finish_quantized(model, scheme, skipped)
    return model, native, fallbacks
