"""8-bit embedding tables for the int8 scheme.

onnxruntime's MatMulNBitsQuantizer quantizes a Gather only at 4 bits ("Gather only supports 4 bits"), while
its GatherBlockQuantized op runs 8-bit blocks. llama.cpp's Q8_0 (symmetric int8, blocks of 32, one scale per
block) is exactly the int8 scheme, and the gguf package ships its reference quantizer: use it, and move the
blocks into GatherBlockQuantized with the same code that carries GGUF files over.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from edgeslm.backends.onnx.gguf_carry import GraphEditor, block_to_matmulnbits, gather_nodes
from edgeslm.sources.gguf_blocks import BLOCK

MIN_ELEMENTS = 4096


def quantize_gathers_q8_0(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A new model whose float Gather tables (width a multiple of 32) are 8-bit GatherBlockQuantized."""
    import gguf

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name: i for i in out.graph.initializer}
    editor = GraphEditor(out)
    done, kept = [], []
    for node in out.graph.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" and node.domain in ("", "ai.onnx") else None
        if (table is None or table.data_type != onnx.TensorProto.FLOAT or len(table.dims) != 2
                or table.dims[1] % BLOCK or table.dims[0] * table.dims[1] < MIN_ELEMENTS):
            kept.append(node)
            continue
        weights = numpy_helper.to_array(table).astype(np.float32)
        blocks = gguf.quants.quantize(weights, gguf.GGMLQuantizationType.Q8_0)
        carried = block_to_matmulnbits(blocks, qtype="Q8_0", shape=weights.shape)
        kept.extend(gather_nodes(editor, node, carried, table.name.removesuffix(".weight")))
        done.append(table.name)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    used = {name for n in out.graph.node for name in n.input}
    remaining = [i for i in out.graph.initializer if i.name in used or i.name not in done]
    del out.graph.initializer[:]
    out.graph.initializer.extend(remaining)
    if not any(o.domain == "com.microsoft" for o in out.opset_import):
        out.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return out, done
