"""One copy of a tied embedding on disk: the lm_head's MatMulNBits reads the embedding's 8-bit blocks.

When a tied model's embedding (GatherBlockQuantized, data (V, H)) and lm_head (MatMulNBits, B (V, H/32, 32))
hold the same blocks, the lm_head takes `Reshape(embed.qweight)` and the embedding's scales and zero
points. onnxruntime folds the Reshape of a constant at session start, so the runtime is unchanged and the
bundle is one table smaller (28 MB for SmolLM2's Q8_0 table). Only done when the bytes are identical.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def share_tied_tables(model: onnx.ModelProto, embed: str = "embed", head: str = "lm_head") -> tuple[onnx.ModelProto, bool]:
    inits = {i.name: i for i in model.graph.initializer}
    names = {part: (f"{embed}.{part}", f"{head}.{part}") for part in ("qweight", "scales", "zero_points")}
    if not all(a in inits and b in inits for a, b in names.values()):
        return model, False
    head_shape = tuple(inits[names["qweight"][1]].dims)
    for a, b in names.values():
        left, right = numpy_helper.to_array(inits[a]), numpy_helper.to_array(inits[b])
        if left.size != right.size or not np.array_equal(left.reshape(right.shape), right):
            return model, False
    out = onnx.ModelProto()
    out.CopyFrom(model)
    shared = f"{head}.qweight_from_{embed}"
    out.graph.initializer.append(numpy_helper.from_array(np.array(head_shape, dtype=np.int64), f"{shared}.shape"))
    rename = {names["qweight"][1]: shared, names["scales"][1]: names["scales"][0],
              names["zero_points"][1]: names["zero_points"][0]}
    for node in out.graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
    out.graph.node.insert(0, helper.make_node("Reshape", [names["qweight"][0], f"{shared}.shape"], [shared],
                                              name=f"{head}/ShareEmbeddingBlocks"))
    keep = [i for i in out.graph.initializer if i.name not in rename]
    del out.graph.initializer[:]
    out.graph.initializer.extend(keep)
    return out, True
