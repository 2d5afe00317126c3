"""Fuse projections that read the same activation into one MatMulNBits (q/k/v -> packed QKV, gate/up).

At one token per step every small node costs onnxruntime a fixed overhead on one thread (~8-12 us), and the
GGUF carry-over (gguf_carry.py) spends three nodes per Q4_1 projection (MatMulNBits, the residual MatMul, the
Add). Projections with the same input and the same MatMulNBits attributes are one matrix cut along N, so
concatenating them along N is exact byte for byte: B (N, K/bs, blob), scales (N, K/bs) and the packed zero
points (one row of bytes per N) are all row-major over N; the Q4_1 residual R (K/bs, N) is concatenated
along its columns and the shared block sum is read once. Each output column is computed from the same bytes
as before, and the logits are bit for bit those of the unfused graph (tests/test_onnx_fusions.py).

The fused output goes either to GroupQueryAttention as packed QKV (query = the fused output, key and value
empty: onnxruntime's contrib op, as onnxruntime-genai's model builder emits it) or through one Split back to
the original tensors (gate/up, `split=True`). Each fused MatMulNBits names its members in its doc_string
(FUSED_DOC), so the stored weights read back per projection (stored_weights.py). Both export paths apply it:
backend.py in memory, stream.py with the bytes in the data file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeslm.backends.onnx.gguf_carry import GraphEditor

_ATTRS = ("K", "bits", "block_size", "accuracy_level")
FUSED_DOC = "edgeslm.fused_from"  # key of the fused MatMulNBits' doc_string: [[member B initializer, N], ...]


@dataclass
class _Member:
    nbits: onnx.NodeProto
    residual: onnx.NodeProto | None  # MatMul(blocksum, R) (GGUF Q4_1 carry-over)
    add: onnx.NodeProto | None  # Add(nbits_out, residual_out)

    @property
    def out(self) -> str:
        return self.add.output[0] if self.add is not None else self.nbits.output[0]

    @property
    def n(self) -> int:
        return _attr(self.nbits, "N")

    def nodes(self) -> list[onnx.NodeProto]:
        return [n for n in (self.nbits, self.residual, self.add) if n is not None]


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _module(node: onnx.NodeProto) -> str:
    """The projection a MatMulNBits holds, from its weight's name (`layers.0.q_proj.weight_t_Q4`: onnxruntime's
    quantizer; `layers.0.q_proj.qweight`: the GGUF carry-over), else from the node's name."""
    data = re.sub(r"_Q\d+$", "", node.input[1])
    for suffix in (".qweight", ".weight_t", ".weight"):
        if data.endswith(suffix):
            return data.removesuffix(suffix)
    return node.name.split("/")[0] or node.output[0]


def _fused_name(members: list[_Member]) -> str:
    """`layers.0.q_proj`, `layers.0.k_proj`, `layers.0.v_proj` -> `layers.0.q_proj+k_proj+v_proj`."""
    parts = [_module(m.nbits).split(".") for m in members]
    common = 0
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return ".".join(parts[0][:common] + ["+".join(".".join(p[common:]) for p in parts)])


class _Tensors:
    """Initializer access: in memory by default; `read`/`write` let the streaming export use its data file."""

    def __init__(self, model: onnx.ModelProto, read: Callable | None, write: Callable | None):
        self.model = model
        self.by_name = {t.name: t for t in model.graph.initializer}
        self.read = read or numpy_helper.to_array
        self.write = write or (lambda t: t)

    def get(self, name: str) -> np.ndarray:
        return self.read(self.by_name[name])

    def add(self, array: np.ndarray, name: str) -> str:
        tensor = self.write(numpy_helper.from_array(np.ascontiguousarray(array), name))
        self.model.graph.initializer.append(tensor)
        self.by_name[name] = tensor
        return name

    def drop_unused(self) -> None:
        used = {i for n in self.model.graph.node for i in n.input}
        keep = [t for t in self.model.graph.initializer if t.name in used]
        del self.model.graph.initializer[:]
        self.model.graph.initializer.extend(keep)


def _member(node: onnx.NodeProto, consumers: dict, producer: dict, inits) -> _Member | None:
    """A MatMulNBits with its Q4_1 residual side path (if any); None if it cannot be fused."""
    if len(node.input) < 3 or len(node.input) > 4 or any(i not in inits for i in node.input[1:] if i):
        return None
    users = consumers.get(node.output[0], [])
    if len(users) == 1 and users[0].op_type == "Add" and not users[0].domain:
        add = users[0]
        other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
        residual = producer.get(other)
        if residual is not None and residual.op_type == "MatMul" and residual.input[1] in inits \
                and len(consumers.get(other, [])) == 1:
            return _Member(node, residual, add)
    return _Member(node, None, None)


def _groups(model: onnx.ModelProto, inits) -> list[list[_Member]]:
    consumers: dict[str, list[onnx.NodeProto]] = {}
    producer: dict[str, onnx.NodeProto] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
        for o in n.output:
            producer[o] = n
    by_key: dict[tuple, list[_Member]] = {}
    for n in model.graph.node:
        if n.op_type != "MatMulNBits" or n.domain != "com.microsoft":
            continue
        m = _member(n, consumers, producer, inits)
        if m is None:
            continue
        zp = n.input[3] if len(n.input) > 3 else ""
        key = (n.input[0], *(_attr(n, a) for a in _ATTRS), len(n.input), zp and inits[zp].data_type,
               m.residual is not None and m.residual.input[0])
        by_key.setdefault(key, []).append(m)
    return [g for g in by_key.values() if len(g) > 1]


def _concat_rows(arrays: list[np.ndarray], rows: list[int]) -> np.ndarray:
    """Arrays row-major over N (any trailing shape, or flat): concatenated along N, in the first one's shape."""
    joined = np.concatenate([a.reshape(r, -1) for a, r in zip(arrays, rows)], axis=0)
    first = arrays[0]
    return joined.reshape(-1) if first.ndim == 1 else joined.reshape((sum(rows), *first.shape[1:]))


def _fused_nodes(group: list[_Member], T: _Tensors, name: str, out: str) -> list[onnx.NodeProto]:
    rows = [m.n for m in group]
    head = group[0].nbits
    inputs = [head.input[0]]
    for k, suffix in ((1, "qweight"), (2, "scales"), (3, "zero_points")):
        if k < len(head.input) and head.input[k]:
            inputs.append(T.add(_concat_rows([T.get(m.nbits.input[k]) for m in group], rows), f"{name}.{suffix}"))
        elif k < len(head.input):
            inputs.append("")
    attrs = {a.name: helper.get_attribute_value(a) for a in head.attribute}
    attrs["N"] = sum(rows)
    # What the fused weight holds, for readers of the stored weights (stored_weights.py): the members' B
    # initializers and their N, in order along N.
    doc = json.dumps({FUSED_DOC: [[m.nbits.input[1], m.n] for m in group]})
    nbits_out = out if group[0].residual is None else f"{name}.nbits_out"
    nbits = helper.make_node("MatMulNBits", inputs, [nbits_out], name=f"{name}/MatMulNBits", domain=head.domain,
                             doc_string=doc, **attrs)
    if group[0].residual is None:
        return [nbits]
    R = T.add(np.concatenate([T.get(m.residual.input[1]) for m in group], axis=1), f"{name}.residual_t")
    return [nbits,
            helper.make_node("MatMul", [group[0].residual.input[0], R], [f"{name}.residual_out"],
                             name=f"{name}/ResidualMatMul"),
            helper.make_node("Add", [f"{name}.nbits_out", f"{name}.residual_out"], [out],
                             name=f"{name}/AddResidual")]


def _packed_qkv(group: list[_Member], consumers: dict, graph_outputs: set[str]
                ) -> tuple[onnx.NodeProto, list[_Member]] | None:
    """The GroupQueryAttention whose query/key/value are exactly this group's outputs (and nothing else reads
    them), with the members in q, k, v order."""
    outs = {m.out: m for m in group}
    users = {id(u): u for m in group for u in consumers.get(m.out, [])}
    if len(group) != 3 or len(users) != 1:
        return None
    gqa = next(iter(users.values()))
    if gqa.op_type != "GroupQueryAttention" or list(gqa.input[:3]) != [o for o in gqa.input[:3] if o in outs] \
            or len(set(gqa.input[:3])) != 3 or any(len(consumers[o]) != 1 or o in graph_outputs for o in outs):
        return None
    return gqa, [outs[o] for o in gqa.input[:3]]


def fuse_projections(model: onnx.ModelProto, *, split: bool = True, read: Callable | None = None,
                     write: Callable | None = None) -> tuple[onnx.ModelProto, dict[str, int]]:
    """A new model with same-input MatMulNBits projections fused; returns it and what was fused.

    q/k/v feeding one GroupQueryAttention become its packed QKV input; other groups (gate/up) are fused and
    split back when `split`. `read(TensorProto) -> ndarray` and `write(TensorProto) -> TensorProto` let a
    caller keep initializer bytes outside the proto (the streaming export)."""
    if not _groups(model, {t.name: t for t in model.graph.initializer}):
        return model, {"packed_qkv": 0, "split": 0, "projections_fused": 0}  # nothing to fuse: no copy of the weights
    new = onnx.ModelProto()
    new.CopyFrom(model)
    T = _Tensors(new, read, write)
    names = GraphEditor(new)  # unique names for the fused nodes and weights
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in new.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    nodes = list(new.graph.node)
    position = {id(n): k for k, n in enumerate(nodes)}
    producer_pos = {o: k for k, n in enumerate(nodes) for o in n.output}
    insert: dict[int, list[onnx.NodeProto]] = {}  # node index -> fused nodes to put before it
    removed: set[int] = set()
    report = {"packed_qkv": 0, "split": 0, "projections_fused": 0}
    for group in _groups(new, T.by_name):
        packed = _packed_qkv(group, consumers, {o.name for o in new.graph.output})
        if packed is None and not split:
            continue
        if packed is not None:
            gqa, group = packed
        group_nodes = [n for m in group for n in m.nodes()]
        # The fused nodes go where all their inputs exist (x, the shared block sum) and before any reader of
        # the projections' outputs; a graph ordered otherwise keeps the group as it is.
        inputs = [group[0].nbits.input[0]] + ([group[0].residual.input[0]] if group[0].residual is not None else [])
        at = max([min(position[id(n)] for n in group_nodes)] + [producer_pos.get(i, -1) + 1 for i in inputs])
        group_ids = {id(n) for n in group_nodes}
        if any(position[id(u)] < at for m in group for u in consumers.get(m.out, []) if id(u) not in group_ids):
            continue
        name = names.fresh(_fused_name(group))
        fused_out = f"{name}.out"
        fused = _fused_nodes(group, T, name, fused_out)
        if packed is not None:
            gqa.input[0], gqa.input[1], gqa.input[2] = fused_out, "", ""
            report["packed_qkv"] += 1
        else:
            sizes = T.add(np.array([m.n for m in group], dtype=np.int64), f"{name}.split")
            fused.append(helper.make_node("Split", [fused_out, sizes], [m.out for m in group], name=f"{name}/Split",
                                          axis=-1))
            report["split"] += 1
        insert.setdefault(at, []).extend(fused)
        removed |= {id(n) for n in group_nodes}
        report["projections_fused"] += len(group)
    out_nodes = []
    for k, n in enumerate(nodes):
        out_nodes.extend(insert.get(k, []))
        if id(n) not in removed:
            out_nodes.append(n)
    out_nodes.extend(insert.get(len(nodes), []))
    kept = [onnx.NodeProto() for _ in out_nodes]
    for copy, n in zip(kept, out_nodes):
        copy.CopyFrom(n)
    del new.graph.node[:]
    new.graph.node.extend(kept)
    T.drop_unused()
    return new, report
