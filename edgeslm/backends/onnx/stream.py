"""Streaming ONNX lowering: a model of any size in the memory of one weight tensor at a time.

1. Trace the weightless skeleton (meta device) into an ONNX program; bind every initializer to a lazy tensor
   that reads its value from the checkpoint on demand, and run the same onnxscript optimizer the in-memory
   export runs (it reads only what it folds).
2. Serialize the graph with each lazy initializer left as a placeholder (no data), then walk the nodes in
   order: a MatMul or Gather whose weight is lazy is quantized alone, in a one-node model, by the very
   function the in-memory path applies to the whole model (`quantize.quantize`: onnxruntime's
   MatMulNBitsQuantizer, gguf's Q8_0 for 8-bit tables), and its nodes and initializers are spliced in.
3. Every initializer's bytes are appended to `model.onnx.data` the moment they exist (onnx's own
   `save_external_data`), then dropped.

The result has the same nodes, the same attributes and byte-identical weights as the in-memory export of
the same model (tests/test_streaming.py holds the two equal), without ever holding more than one float
weight plus its quantized form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx.external_data_helper import save_external_data, set_external_data

from edgeslm.backends.onnx.fuse_projections import fuse_projections
from edgeslm.backends.onnx.lower import check_attention, export_program, optimize_program
from edgeslm.backends.onnx.quantize import quantize
from edgeslm.quant import QuantScheme

PENDING = "__edgeslm_pending__"  # placeholder location of an initializer whose bytes are not written yet
INLINE_BELOW_BYTES = 1024  # as onnx.save_model(size_threshold=1024) in the in-memory path


def _lazy_tensor(name: str, source: Callable, dtype, shape):
    import onnx_ir as ir

    return ir.LazyTensor(lambda: ir.tensor(source().numpy(), name=name), dtype=dtype, shape=shape, name=name)


def _bind_lazy(program, values: dict[str, Callable]) -> None:
    for name, value in program.model.graph.initializers.items():
        if name in values:
            tensor = value.const_value
            value.const_value = _lazy_tensor(name, values[name], tensor.dtype, tensor.shape)


def _placeholders(program) -> dict[str, Callable]:
    """Replace the still-lazy initializers by data-less placeholders; return their sources by name."""
    import onnx_ir as ir

    pending = {}
    for name, value in program.model.graph.initializers.items():
        tensor = value.const_value
        if isinstance(tensor, ir.LazyTensor):
            pending[name] = tensor
            value.const_value = ir.ExternalTensor(PENDING, 0, tensor.nbytes, tensor.dtype, shape=tensor.shape,
                                                  name=name)
    return pending


class DataWriter:
    """Appends initializer bytes to one external data file, one tensor at a time."""

    def __init__(self, out_dir: Path, location: str):
        self.out_dir, self.location = out_dir, location
        (out_dir / location).write_bytes(b"")

    def store(self, tensor: onnx.TensorProto) -> onnx.TensorProto:
        if len(tensor.raw_data) < INLINE_BELOW_BYTES and not tensor.external_data:
            return tensor
        if not tensor.HasField("raw_data"):
            raw = onnx.numpy_helper.to_array(tensor)
            tensor.raw_data = np.ascontiguousarray(raw).tobytes()
            for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
                tensor.ClearField(field)
        if len(tensor.raw_data) < INLINE_BELOW_BYTES:
            return tensor
        set_external_data(tensor, self.location)
        save_external_data(tensor, str(self.out_dir))
        tensor.ClearField("raw_data")
        return tensor


def _materialize(placeholder: onnx.TensorProto, source) -> onnx.TensorProto:
    import onnx_ir as ir

    return ir.serde.serialize_tensor(ir.Tensor(source.numpy(), name=placeholder.name))


def _one_node_model(proto: onnx.ModelProto, node: onnx.NodeProto, weight: onnx.TensorProto) -> onnx.ModelProto:
    graph = onnx.helper.make_graph([node], "one_node", [], [], initializer=[weight])
    model = onnx.helper.make_model(graph, opset_imports=list(proto.opset_import))
    model.ir_version = proto.ir_version
    return model


def _merge_opsets(proto: onnx.ModelProto, other: onnx.ModelProto) -> None:
    have = {o.domain: o for o in proto.opset_import}
    for opset in other.opset_import:
        if opset.domain in have:
            have[opset.domain].version = max(have[opset.domain].version, opset.version)
        else:
            proto.opset_import.append(opset)
    proto.ir_version = max(proto.ir_version, other.ir_version)


def _quantizable(node: onnx.NodeProto, pending: dict, scheme: QuantScheme) -> str | None:
    """The lazy weight this node quantizes, if the in-memory quantizer would quantize it."""
    if scheme.is_float:
        return None
    if node.op_type == "MatMul" and len(node.input) > 1 and node.input[1] in pending \
            and node.input[1].endswith(".weight_t"):
        return node.input[1]
    if node.op_type == "Gather" and node.input[0] in pending and scheme.quantize_embedding:
        return node.input[0]
    return None


def stream_quantize(proto: onnx.ModelProto, pending: dict, scheme: QuantScheme, writer: DataWriter,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Quantize node by node and write every initializer out; returns the quantizer's native description."""
    placeholders = {t.name: t for t in proto.graph.initializer}
    kept_inits = [t for t in proto.graph.initializer if t.name not in pending]
    new_nodes, new_inits, native = [], [], {}
    todo = [n for n in proto.graph.node if _quantizable(n, pending, scheme)]
    done = 0
    for node in proto.graph.node:
        weight_name = _quantizable(node, pending, scheme)
        if weight_name is None:
            new_nodes.append(node)
            continue
        weight = _materialize(placeholders[weight_name], pending.pop(weight_name))
        quantized, native = quantize(_one_node_model(proto, node, weight), scheme, [])
        del weight
        _merge_opsets(proto, quantized)
        # Copies, not references: a reference to a sub-message keeps its whole parent (the one-node model with
        # its float weight) alive in protobuf's arena, and memory would grow by a model's worth of weights.
        new_nodes.extend(_detached(n, onnx.NodeProto) for n in quantized.graph.node)
        new_inits.extend(_detached(writer.store(t), onnx.TensorProto) for t in quantized.graph.initializer)
        del quantized
        done += 1
        if progress:
            progress(done, len(todo))
    used = {name for node in new_nodes for name in node.input}
    for name, source in list(pending.items()):
        if name in used:
            new_inits.append(_detached(writer.store(_materialize(placeholders[name], source)), onnx.TensorProto))
        pending.pop(name)
    kept_inits = [writer.store(t) for t in kept_inits if t.name in used]
    del proto.graph.node[:]
    proto.graph.node.extend(new_nodes)
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(_in_first_use_order(kept_inits + new_inits, new_nodes))
    return native if native else {"quantizer": "none", "dtype": "float32"}


def _detached(message, kind):
    copy = kind()
    copy.CopyFrom(message)
    return copy


def _in_first_use_order(inits: list[onnx.TensorProto], nodes) -> list[onnx.TensorProto]:
    order = {}
    for node in nodes:
        for name in node.input:
            order.setdefault(name, len(order))
    return sorted(inits, key=lambda t: order.get(t.name, len(order)))


def compact_data(proto: onnx.ModelProto, out_dir: Path, location: str) -> None:
    """Rewrite the external data file with only the initializers `proto` still holds (a fusion replaced some),
    one tensor at a time, in the graph's order."""
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    old = location + ".before_fusion"
    (out_dir / location).rename(out_dir / old)
    writer = DataWriter(out_dir, location)
    for tensor in proto.graph.initializer:
        if uses_external_data(tensor):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = old
            load_external_data_for_tensor(tensor, str(out_dir))
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
            writer.store(tensor)
    (out_dir / old).unlink()


def lower_streaming(skeleton, scheme: QuantScheme, out_dir: Path, model_file: str,
                    progress: Callable[[int, int], None] | None = None) -> tuple[onnx.ModelProto, dict, dict]:
    """Trace, optimize, quantize and write `model_file` (+ `.data`) in `out_dir`; returns the graph (no weight
    data in it), the quantizer's native description and the kernel's fallbacks."""
    program, kernel = export_program(skeleton.decoder)
    _bind_lazy(program, skeleton.values)
    optimize_program(program)
    pending = _placeholders(program)
    proto = program.model_proto
    check_attention(proto, skeleton.spec.layers)
    writer = DataWriter(out_dir, model_file + ".data")
    native = stream_quantize(proto, pending, scheme, writer, progress)
    # As the in-memory export (backend.py): the fused weights are appended to the data file, then the file is
    # rewritten without the unfused ones.
    proto, native["fused_projections"] = fuse_projections(
        proto, read=lambda t: onnx.numpy_helper.to_array(t, str(out_dir)), write=writer.store)
    if native["fused_projections"]["projections_fused"]:  # else the data file holds no unfused weights
        compact_data(proto, out_dir, model_file + ".data")
    onnx.save_model(proto, out_dir / model_file)
    return proto, native, dict(kernel.fallbacks)
