"""Read a Core ML ML program back: op counts, the weights it really stores (dequantized), what stayed float.

The package written to disk is what an iPhone loads, so the checks read it back from disk (milproto + the
weight.bin blobs) rather than trusting the in-memory program that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeslm.errors import InternalError

WEIGHT_OPS = ("linear", "gather")
QUANT_OP = "constexpr_blockwise_shift_scale"
EMBED_PREFIXES = {"decoder_pos_embed_weight": "pos_embed", "decoder_embed_weight": "embed"}


@dataclass
class Program:
    spec: object  # Model_pb2.Model
    mil: object  # coremltools MIL Program


def load_program(package: Path) -> Program:
    import coremltools as ct

    return program_of(ct.models.MLModel(str(package), skip_model_load=True))  # no Core ML runtime needed


def program_of(model) -> Program:
    """An MLModel's spec and its MIL program, read back from the spec and its weights."""
    from coremltools.converters.mil.frontend.milproto.load import load as milproto_load

    spec = model.get_spec()
    mil = milproto_load(spec, specification_version=spec.specificationVersion, file_weights_dir=model.weights_dir)
    return Program(spec, mil)


def operations(mil) -> list:
    return list(mil.functions["main"].operations)


def op_counts(mil) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in operations(mil):
        counts[op.op_type] = counts.get(op.op_type, 0) + 1
    return dict(sorted(counts.items()))


def _weight_input(op):
    """The weight operand of a projection (linear.weight) or an embedding lookup (gather.x), if const."""
    var = op.weight if op.op_type == "linear" else op.x
    source = var.op
    if source is None or not (source.op_type == "const" or source.op_type.startswith("constexpr_")):
        return None
    return source


def dequantize(source) -> np.ndarray:
    """What the runtime computes from a stored weight: (data - offset) * scale, scales repeated per block."""
    if source.op_type == "const":
        return np.asarray(source.outputs[0].val, dtype=np.float32)
    if source.op_type != QUANT_OP:
        raise InternalError(f"unexpected compressed weight op {source.op_type} ({source.name})",
                            hint="The Core ML backend reads back only constexpr_blockwise_shift_scale weights.")
    return dequantize_blocks(source.data.val, source.scale.val,
                             source.offset.val if source.offset is not None else None)


_ROWS_AT_ONCE = 4096  # a 262k-row table dequantized whole would hold three float32 copies of itself at once


def dequantize_blocks(data: np.ndarray, scale: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """constexpr_blockwise_shift_scale's arithmetic in float32: (data - offset) * scale, each scale (and offset)
    repeated over its block; a few thousand rows at a time, so the result is the only full-size array."""
    data = np.asarray(data)
    out = np.empty(data.shape, dtype=np.float32)

    def expand(x, rows):
        x = np.asarray(x[rows] if x.shape[0] == data.shape[0] else x, dtype=np.float32)
        for axis in range(1, data.ndim):
            x = np.repeat(x, data.shape[axis] // x.shape[axis], axis=axis)
        return x

    for start in range(0, max(data.shape[0], 1), _ROWS_AT_ONCE):
        rows = slice(start, start + _ROWS_AT_ONCE)
        block = data[rows].astype(np.float32)
        if offset is not None:
            block -= expand(offset, rows)
        out[rows] = block * expand(scale, rows)
    return out


def _is_embedding(source) -> str | None:
    for prefix, name in EMBED_PREFIXES.items():
        if source.name.startswith(prefix):
            return name
    return None


@dataclass
class StoredWeights:
    projections: list[tuple[str, np.ndarray]]  # (MIL op name, (out, in)) in program order
    embeddings: dict[str, np.ndarray]  # decoder attribute -> (rows, hidden)
    kinds: dict[str, int]  # storage op type -> count, e.g. {"constexpr_blockwise_shift_scale": 62}
    float_left: list[str]  # rank-2 weights the quantizer left float (names)


def weight_sources(mil):
    """(op, the op that stores its weight, the decoder's embedding attribute or None) for every projection
    (`linear`) and embedding lookup (`gather` of a table) in program order."""
    for op in operations(mil):
        if op.op_type not in WEIGHT_OPS:
            continue
        source = _weight_input(op)
        if source is None:
            continue  # a gather over a shape or an activation, not a weight
        embed = _is_embedding(source) if op.op_type == "gather" else None
        if op.op_type == "gather" and embed is None:
            continue
        yield op, source, embed


def storage(mil) -> tuple[dict[str, int], list[str]]:
    """How the weights are stored (storage op type -> count) and the names of those left float, without
    dequantizing anything (a big model's weights in float32 would not fit beside it)."""
    kinds: dict[str, int] = {}
    float_left = []
    for _op, source, _embed in weight_sources(mil):
        kinds[source.op_type] = kinds.get(source.op_type, 0) + 1
        if source.op_type == "const":
            float_left.append(source.name)
    return kinds, float_left


def stored_weights(mil) -> StoredWeights:
    projections, embeddings = [], {}
    kinds, float_left = storage(mil)
    for op, source, embed in weight_sources(mil):
        values = dequantize(source)
        if embed:
            embeddings[embed] = values
        else:
            projections.append((op.name, values))
    return StoredWeights(projections, embeddings, kinds, float_left)


def state_names(spec) -> list[str]:
    return [s.name for s in spec.description.state]


def io_shapes(spec) -> dict:
    """Input / output / state names with their shapes and ranges, from the package's own description."""

    def describe(feature, array):
        ranges = [[r.lowerBound, r.upperBound] for r in array.shapeRange.sizeRanges]
        dtype = array.DESCRIPTOR.fields_by_name["dataType"].enum_type.values_by_number[array.dataType].name
        out = {"shape": list(array.shape), "dtype": dtype.lower()}
        return {**out, "ranges": ranges} if ranges else out

    d = spec.description
    return {
        "inputs": {f.name: describe(f, f.type.multiArrayType) for f in d.input},
        "outputs": {f.name: describe(f, f.type.multiArrayType) for f in d.output},
        "states": {f.name: describe(f, f.type.stateType.arrayType) for f in d.state},
    }
