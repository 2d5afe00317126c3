"""The Core ML side of a streaming export: projections quantized while the model loads, one layer at a time.

The in-memory path traces the float model and lets coremltools quantize the converted program, so every float
weight is in memory at once (~13 bytes per parameter). Here each decoder layer is read from the lazy checkpoint
and each projection quantized at once, by the function coremltools' own `linear_quantize_weights` pass calls
(`blockwise_compress_by_dtype`), on the float16 value that pass would see. The projection then holds only its
int data and scales (`QuantizedProj`), and its forward dequantizes with torchao's `dequantize_affine`, which
coremltools' torch frontend converts to `constexpr_blockwise_shift_scale`: the converted program stores the int
data, never a float copy.

What differs from the in-memory program is fixed up in the converted MIL (`projections_as_linear`): the frontend
writes a projection over a non-`const` weight as `matmul(x, w, transpose_y=True)` (+ `add` of the bias), where
the in-memory program has `linear(x, w, bias)`. The embedding tables (a `gather`, read by name) stay float in
PyTorch and are quantized by the same coremltools pass as in memory. A model that fits gives the same ops and the
same stored weights either way (tests/test_streaming_coreml.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
import torchao.quantization.quant_primitives  # noqa: F401  (registers torch.ops.torchao.dequantize_affine)
from torch import nn

from edgeslm.backends.coreml.convert import WEIGHT_THRESHOLD
from edgeslm.model.decoder import EdgeDecoder, Proj
from edgeslm.model.skeleton import Skeleton, layer_by_layer
from edgeslm.quant import QuantScheme

# torchao's dequantize_affine carries the int range only to say the width: coremltools maps (-8, 7) to int4 and
# (-128, 127) to int8 storage, whatever range the values use (coremltools' symmetric grid is -7..7 / -127..127).
_TORCHAO_RANGE = {4: (-8, 7), 8: (-128, 127)}


class QuantizedProj(nn.Module):
    """A projection as coremltools stores it: int data (out, in) and float16 scales per block (int4: blocks of
    `group` along the input, int8: one per output channel), dequantized in the forward."""

    def __init__(self, data: np.ndarray, scale: np.ndarray, bias: torch.Tensor | None, bits: int):
        super().__init__()
        self.register_buffer("data", torch.from_numpy(np.ascontiguousarray(data, dtype=np.int8)))
        self.register_buffer("scale", torch.from_numpy(np.ascontiguousarray(scale, dtype=np.float16)))
        # The package stores the bias in float16 (the linear's third operand): held as it will be read back.
        self.bias = None if bias is None else nn.Parameter(bias.detach().half().float(), requires_grad=False)
        self.block = [1, data.shape[1] // scale.shape[1]]
        self.bits = bits

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """data * scale in `dtype` (coremltools ignores the dtype: the program computes in float16)."""
        low, high = _TORCHAO_RANGE[self.bits]
        return torch.ops.torchao.dequantize_affine(self.data, self.block, self.scale, None, torch.int8, low, high,
                                                   output_dtype=dtype)

    def forward(self, x):
        y = F.linear(x, self.dequantized(x.dtype))  # one full-size copy per call: verify decodes through it
        return y if self.bias is None else y + self.bias


def coreml_quantized(weight: torch.Tensor, scheme: QuantScheme) -> tuple[np.ndarray, np.ndarray] | None:
    """(int data, float16 scales) of one (out, in) float weight, exactly as coremltools' linear_quantize_weights
    computes them on the converted program's float16 const; None where that pass leaves the weight float."""
    from coremltools.optimize.coreml._quantization_passes import linear_quantize_weights

    value = weight.detach().to(torch.float16).numpy()
    if value.size <= WEIGHT_THRESHOLD or np.isinf(value).any():  # the pass's own skips (inf: beyond float16)
        return None
    blocks = [1, scheme.group_size] if scheme.name == "int4" else [1, 0]
    params = linear_quantize_weights.blockwise_compress_by_dtype(value, f"int{scheme.weight_bits}",
                                                                 "LINEAR_SYMMETRIC", blocks)
    if params is None or params.offset is not None:
        return None
    return params.data, params.scale


def tables_as_stored(model: EdgeDecoder, scheme: QuantScheme) -> None:
    """Replace the model's embedding tables (float while it converts: coremltools quantizes them in the program)
    with what the package stores: the same coremltools function on the same float16 values, dequantized in
    float32 as the package's reader does. Makes the model the reference of what the package holds."""
    from edgeslm.backends.coreml.mil import dequantize_blocks

    for attr in ("embed", "pos_embed"):
        table = getattr(model, attr, None)
        if table is None:
            continue
        q = coreml_quantized(table.weight, scheme)
        stored = dequantize_blocks(*q) if q is not None else table.weight.detach().half().float().numpy()
        table.weight = nn.Parameter(torch.from_numpy(stored), requires_grad=False)


def _quantize_projections(module: nn.Module, scheme: QuantScheme) -> nn.Module:
    """Every Proj of `module` as coremltools stores it: quantized, or (where its pass skips the weight) rounded to
    float16, the value the package then holds."""
    for name, child in list(module.named_children()):
        if isinstance(child, Proj):
            q = coreml_quantized(child.weight_t.t(), scheme)
            if q is None:
                child.weight_t.data = child.weight_t.data.half().float()
                if child.bias is not None:
                    child.bias.data = child.bias.data.half().float()
            else:
                setattr(module, name, QuantizedProj(*q, child.bias, scheme.weight_bits))
        elif not isinstance(child, QuantizedProj):
            _quantize_projections(child, scheme)
    return module


def quantized_from_skeleton(skel: Skeleton, scheme: QuantScheme,
                            progress: Callable[[int, int], None] | None = None) -> EdgeDecoder:
    """The decoder to trace: its projections quantized (int data + scales), one float layer in memory at a time;
    embeddings, norms and rotary tables float as in memory. What stays float is found in the converted program,
    as for the in-memory package."""
    return layer_by_layer(skel, lambda module, _prefix: _quantize_projections(module, scheme), progress)


def _single_bias_add(var, out_features: int):
    """The `add` of a const bias of `out_features` right after a projection's matmul, if that is its only use."""
    users = var.child_ops
    if len(users) != 1 or users[0].op_type != "add":
        return None, None
    add = users[0]
    other = add.y if add.x is var else add.x
    if other.val is None or tuple(other.shape) != (out_features,):
        return None, None
    return add, other


def projections_as_linear(prog) -> int:
    """Rewrite `matmul(x, w, transpose_y=True)` [+ `add(bias)`] over a quantized weight as `linear(x, w, bias)`,
    the op the in-memory program has (coremltools' frontend uses `linear` only for a `const` weight). Returns how
    many were rewritten."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    rewritten = 0
    for fn in prog.functions.values():
        for op in list(fn.operations):
            if op.op_type != "matmul" or op.transpose_x.val or not op.transpose_y.val:
                continue
            weight = op.y
            if weight.op is None or weight.op.op_type != "constexpr_blockwise_shift_scale" or weight.rank != 2:
                continue
            if op.x.rank > 3:  # MIL linear takes rank 1-3 inputs
                continue
            add, bias = _single_bias_add(op.outputs[0], weight.shape[0])
            last = add if add is not None else op
            with fn:
                bias_value = (bias.val if bias is not None
                              else np.zeros(weight.shape[0], dtype=types.nptype_from_builtin(weight.dtype)))
                linear = mb.linear(x=op.x, weight=weight, bias=bias_value, before_op=op, name=f"{op.name}_linear")
            fn.replace_uses_of_var_after_op(anchor_op=last, old_var=last.outputs[0], new_var=linear)
            fn.remove_ops([o for o in (add, op) if o is not None])
            rewritten += 1
    return rewritten


PROJECTIONS_AS_LINEAR = "edgeslm::projections_as_linear"


def register_projections_pass() -> str:
    """Register `projections_as_linear` as a coremltools MIL pass (once per process); returns its name."""
    from coremltools.converters.mil.mil.passes.graph_pass import AbstractGraphPass
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY, register_pass

    if PROJECTIONS_AS_LINEAR not in PASS_REGISTRY:

        @register_pass(namespace="edgeslm", name="projections_as_linear")
        class _ProjectionsAsLinear(AbstractGraphPass):
            def apply(self, prog):
                projections_as_linear(prog)

    return PROJECTIONS_AS_LINEAR
