"""Verify a streamed Core ML export where Core ML cannot run (Linux), without a float copy of the model.

The bundle "as shipped" is the package's stored weights, read back from disk, in the PyTorch Core ML wrapper
(StatefulDecoder: its state cache and fused attention, as host_verify's stored_weights check runs them): each
projection keeps the package's int data and scales as they are (`QuantizedProj`), so it costs what the quantized
model costs, not a float copy. Part (a) compares that with the quantized model the package was built from, run
layer by layer by the reference kernel: the same weights if the lowering stored what it quantized, so float
tolerance; a weight stored wrong or in the wrong place moves the logits. Where Core ML runs (macOS),
MLModel.predict is the bundle as shipped and the stored weights in PyTorch are (a)'s exact runner.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from edgeslm.backends.base import LoweringCheck
from edgeslm.backends.coreml.contract import MODEL_DIR
from edgeslm.backends.coreml.host_verify import paired_in_call_order
from edgeslm.backends.coreml.mil import QUANT_OP, dequantize, load_program, weight_sources
from edgeslm.backends.coreml.stream import QuantizedProj, tables_as_stored
from edgeslm.errors import InternalError
from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder
from edgeslm.model.decoder import EdgeDecoder, Proj
from edgeslm.quant import QuantScheme


def with_package_weights(model: EdgeDecoder, bundle_dir: Path) -> EdgeDecoder:
    """A decoder that shares every tensor with `model` except what the package stores: its projections and
    embedding tables are read back from the package on disk."""
    shared = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    clone = copy.deepcopy(model, memo=shared)  # new modules, the same tensors
    stored = list(weight_sources(load_program(Path(bundle_dir) / MODEL_DIR).mil))
    in_order = [(op, source) for op, source, embed in stored if embed is None]
    for module, (op, source) in paired_in_call_order(clone, in_order, (Proj, QuantizedProj)):
        bias = np.asarray(op.bias.val, dtype=np.float32) if op.bias is not None and op.bias.val is not None else None
        if bias is not None and (module.bias is not None or np.any(bias)):  # the bias the package adds, read back
            module.bias = torch.nn.Parameter(torch.from_numpy(bias), requires_grad=False)
        if isinstance(module, QuantizedProj) and source.op_type == QUANT_OP:
            data, scale = np.asarray(source.data.val), np.asarray(source.scale.val)
            if data.shape != tuple(module.data.shape) or scale.shape != tuple(module.scale.shape):
                raise InternalError(f"stored weight {op.name} is {data.shape}, its projection "
                                    f"{tuple(module.data.shape)}", hint="The MIL op order differs from the forward order.")
            module.data = torch.from_numpy(np.asarray(data, dtype=np.int8))
            module.scale = torch.from_numpy(np.asarray(scale, dtype=np.float16))
        elif isinstance(module, Proj):
            module.weight_t = torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(dequantize(source).T)),
                                                 requires_grad=False)
        else:
            raise InternalError(f"projection {op.name} is stored as {source.op_type}, quantized at export",
                                hint="coremltools re-stored a quantized weight; rerun with --debug.")
    for _op, source, embed in stored:
        if embed is not None:
            getattr(clone, embed).weight = torch.nn.Parameter(torch.from_numpy(dequantize(source)),
                                                              requires_grad=False)
    return clone


def streamed_check(model: EdgeDecoder, scheme: QuantScheme, bundle_dir: Path) -> LoweringCheck:
    """(a) for a streamed Core ML bundle against the quantized model it was built from (`model`, its tables
    quantized here as the package stores them; let go once (a) is computed). Off macOS the bundle as shipped is the
    package's stored weights in the Core ML wrapper; on macOS it is MLModel.predict, and (a) runs the stored
    weights in PyTorch beside it (the prediction's own arithmetic recorded as `runtime_arithmetic`)."""
    from edgeslm.backends.coreml.host_verify import coreml_runtime_available
    from edgeslm.verify.layerwise import sequence_logits
    from edgeslm.verify.thresholds import LOWERING_TOLERANCE

    tables_as_stored(model, scheme)

    def stored_logits(sequences, progress=None):
        return sequence_logits(model, model.layers, len(model.layers), sequences, progress)

    def package_weights(threads=None):
        return EagerRunner(StatefulDecoder(with_package_weights(model, bundle_dir), model.spec.max_positions).eval())

    reference = ("PyTorch run of the quantized model the package was converted from (its int data and float16 "
                 "scales, dequantized)")
    stored = "the package's stored weights, read back from disk, in the Core ML wrapper (state cache, fused attention)"
    why_not = coreml_runtime_available()
    if why_not is None:
        return LoweringCheck(stored_logits, package_weights, reference=reference,
                             runtime=f"coreml (MLModel.predict); (a) runs {stored} in PyTorch",
                             tolerance=LOWERING_TOLERANCE)
    return LoweringCheck(stored_logits, None, reference=reference,
                         runtime=f"host pytorch: {stored}; MLModel.predict not run ({why_not.split(':')[0]})",
                         tolerance=LOWERING_TOLERANCE, shipped_runner=package_weights)
