"""The weights an ONNX bundle stores, dequantized back to float: the input of the lowering-exactness check.

A PyTorch run of these weights is what the bundle must compute (up to float reassociation and MatMulNBits'
int8 activation blocks), whatever the quantization did to the source: any larger difference is a lowering
bug, never quantization drift. Dequantization follows the contrib-op definitions of onnxruntime
(docs/ContribOperators.md): MatMulNBits stores B as (N, K/block, block*bits/8) bytes, low nibble first,
with `scales` (N * K/block) and optional packed `zero_points` (default 2^(bits-1)); GatherBlockQuantized
stores the table in INT4 / UINT4 / UINT8 with scales along `quantize_axis`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from edgeslm.errors import UnsupportedError

_SUFFIX = re.compile(r"_Q\d+$")


def _unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """uint8 bytes -> unsigned integers of `bits` bits, low bits first, the first `count` of them."""
    flat = packed.reshape(-1)
    if bits == 8:
        return flat[:count].astype(np.int32)
    if bits != 4:
        raise UnsupportedError(f"{bits}-bit MatMulNBits weights cannot be read back here")
    out = np.empty(flat.size * 2, dtype=np.int32)
    out[0::2] = flat & 0x0F
    out[1::2] = flat >> 4
    return out[:count]


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def dequantize_matmulnbits(node: onnx.NodeProto, inits: dict[str, np.ndarray]) -> np.ndarray:
    """(K, N) float32 weight of a MatMulNBits node: what `MatMul(x, W)` it stands for."""
    k, n, bits, block = (_attr(node, a) for a in ("K", "N", "bits", "block_size"))
    blocks = (k + block - 1) // block
    packed = inits[node.input[1]].reshape(n * blocks, -1)  # one blob of block * bits / 8 bytes per block
    q = _unpack(packed, bits, packed.size * 8 // bits).reshape(n, blocks, -1)[:, :, :block]
    scales = inits[node.input[2]].astype(np.float32).reshape(n, blocks, 1)
    if len(node.input) > 3 and node.input[3]:
        zp = inits[node.input[3]]
        if zp.dtype == np.uint8:
            zp = _unpack(zp, bits, n * ((blocks * bits + 7) // 8) * 8 // bits).reshape(n, -1)[:, :blocks]
        zero = zp.astype(np.float32).reshape(n, blocks, 1)
    else:
        zero = np.float32(2 ** (bits - 1))
    w = ((q.astype(np.float32) - zero) * scales).reshape(n, blocks * block)[:, :k]
    return np.ascontiguousarray(w.T)


_GATHER_ZERO = {onnx.TensorProto.INT4: 0, onnx.TensorProto.INT8: 0, onnx.TensorProto.UINT4: 8,
                onnx.TensorProto.UINT8: 128}


def dequantize_gather(node: onnx.NodeProto, inits, data_type: int) -> np.ndarray:
    """(V, H) float32 table of a GatherBlockQuantized node (quantized along axis 1)."""
    data = inits[node.input[0]]
    if _attr(node, "quantize_axis", 1) != 1 or _attr(node, "gather_axis", 0) != 0:
        raise UnsupportedError("GatherBlockQuantized with other axes cannot be read back here")
    block = _attr(node, "block_size", 128)
    scales = inits[node.input[2]].astype(np.float32)
    values = data.astype(np.float32)
    rows, width = values.shape
    if len(node.input) > 3 and node.input[3]:
        zero = inits[node.input[3]].astype(np.float32)
    else:  # signed types are centred on 0, unsigned ones on half their range
        zero = np.full_like(scales, _GATHER_ZERO[data_type])
    per_block = values.reshape(rows, width // block, block)
    return ((per_block - zero[..., None]) * scales[..., None]).reshape(rows, width)


def _weight_name(node: onnx.NodeProto, data: str | None = None) -> str:
    """The decoder tensor a quantized node stands for, from its data initializer's name."""
    data = data or (node.input[1] if node.op_type == "MatMulNBits" else node.input[0])
    if _SUFFIX.search(data):  # onnxruntime's quantizer: <weight>_Q4
        return _SUFFIX.sub("", data)
    if data.endswith(".qweight"):  # edgeslm's GGUF-block tables: <prefix>.qweight
        return data.removesuffix(".qweight") + ".weight"
    raise UnsupportedError(f"cannot tell which weight the quantized node {node.name} holds ({data})")


def _fused_members(node: onnx.NodeProto) -> list[tuple[str, int, int]]:
    """(member data initializer, first column, end column) of a MatMulNBits fused along N (fuse_projections)."""
    from edgeslm.backends.onnx.fuse_projections import FUSED_DOC

    if node.op_type != "MatMulNBits" or FUSED_DOC not in node.doc_string:
        return []
    out, start = [], 0
    for data, n in json.loads(node.doc_string)[FUSED_DOC]:
        out.append((data, start, start + n))
        start += n
    return out


class StoredWeights:
    """Every weight of a bundle under its decoder name (`layers.0.q_proj.weight_t`, `embed.weight`, ...),
    read from disk one at a time: quantized ones dequantized, float ones as stored.

    Bundles whose graphs hold more than plain weight quantization (the GGUF carry's offset side paths) are
    refused: their weights are not a function of one initializer each.
    """

    def __init__(self, model_path: Path):
        self.base = str(Path(model_path).parent)
        model = onnx.load(str(model_path), load_external_data=False)
        self.tensors = {t.name: t for t in model.graph.initializer}
        self.quantized: dict[str, onnx.NodeProto] = {}
        self.columns: dict[str, tuple[int, int]] = {}  # a weight fused with others: its columns of the node's N
        for node in model.graph.node:
            fused = _fused_members(node)
            for data, start, stop in fused:
                self.quantized[_weight_name(node, data)] = node
                self.columns[_weight_name(node, data)] = (start, stop)
            if node.op_type in ("MatMulNBits", "GatherBlockQuantized") and not fused:
                self.quantized[_weight_name(node)] = node
            elif node.op_type == "MatMul" and node.input[1] in self.tensors \
                    and not node.input[1].endswith(".weight_t"):
                raise UnsupportedError("the bundle holds GGUF offset side paths; its stored weights are not "
                                       "read back one initializer each")

    def __getitem__(self, name: str) -> np.ndarray:
        return self._array(name)

    def _array(self, name: str) -> np.ndarray:
        from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

        tensor = onnx.TensorProto()
        tensor.CopyFrom(self.tensors[name])
        if uses_external_data(tensor):
            load_external_data_for_tensor(tensor, self.base)
        return numpy_helper.to_array(tensor)

    def __contains__(self, name: str) -> bool:
        return name in self.quantized or (name in self.tensors and self._is_float(name))

    def _is_float(self, name: str) -> bool:
        return self.tensors[name].data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)

    def weight(self, name: str) -> np.ndarray:
        """The float32 value the bundle computes with for decoder tensor `name`."""
        node = self.quantized.get(name)
        if node is None:
            return self._array(name).astype(np.float32)
        if node.op_type == "MatMulNBits":
            start, stop = self.columns.get(name, (None, None))
            return np.ascontiguousarray(dequantize_matmulnbits(node, self)[:, start:stop])
        return dequantize_gather(node, self, self.tensors[node.input[0]].data_type)
