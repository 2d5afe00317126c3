"""XNNPACK's preprocess without the graph passes that have nothing to rewrite in a subgraph.

ExecuTorch's XNNPACK backend runs 17 passes over every delegated subgraph (executorch/backends/xnnpack/_passes:
XNNPACKPassManager), and nearly every one ends by re-tracing the whole subgraph with fake tensors and symbolic
shapes: about half of an ExecuTorch export of the default model went there (profiled on 2 of its layers:
~0.4 s per pass and layer). Ten of them only rewrite ops a decoder never contains: upsampling, batch norm (two),
convolution, PReLU, padding, max-pool indices, dim-order copies, long concatenations, and XNNPACK's own SDPA
(whose pattern needs a softmax; edgeslm's attention is llama::custom_sdpa, outside the delegate). Each is
skipped when the subgraph, as the passes before it left it, holds none of the ops it acts on (the op names below
are the ones each pass's code or pattern graphs look for; tests/test_executorch_fuse_projections.py checks them
against the installed library). Skipping a pass that would change nothing gives the same program byte for
byte (checked by the same tests).

The stock pass manager is swapped for the length of one lowering (`only_applicable_xnnpack_passes`), process-wide:
edgeslm lowers one program at a time, and the swap holds a lock so two lowerings in one process do not interleave.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable

import torch

_BATCH_NORM = {"aten.native_batch_norm.default", "aten._native_batch_norm_legit_no_training.default"}
CONCAT_KEPT_WHOLE = 5  # DecomposeConcatenate splits a cat of more inputs than this


def _has_any(names: set[str]) -> Callable[[torch.fx.Graph], bool]:
    return lambda graph: bool(names & _op_names(graph))


def _op_names(graph: torch.fx.Graph) -> set[str]:
    return {getattr(n.target, "__name__", str(n.target)) for n in graph.nodes if n.op == "call_function"}


def _long_concat(graph: torch.fx.Graph) -> bool:
    return any(n.op == "call_function" and getattr(n.target, "__name__", "") == "aten.cat.default"
               and len(n.args[0]) > CONCAT_KEPT_WHOLE for n in graph.nodes)


def _dim_order_op(graph: torch.fx.Graph) -> bool:
    return any(name.startswith("dim_order_ops.") for name in _op_names(graph))


def pass_gates() -> dict[type, Callable[[torch.fx.Graph], bool]]:
    """{XNNPACK pass class: whether it may change a graph}; passes not listed always run."""
    from executorch.backends.transforms.remove_getitem_op import RemoveGetItemPass
    from executorch.backends.xnnpack._passes import (Conv1dUnsqueezePass, ConvertToSDPAPass,
                                                     ConvertToUpsampleBilinear2d, DecomposeBatchNorm,
                                                     DecomposeConcatenate, FuseBatchNormPass, InsertPadQDQPass,
                                                     PReLUReshapePass)
    from executorch.exir.passes.memory_format_ops_pass import DimOrderOpsRevertPass

    return {
        ConvertToUpsampleBilinear2d: _has_any({"aten.upsample_bilinear2d.vec"}),
        ConvertToSDPAPass: _has_any({"aten._softmax.default"}),
        FuseBatchNormPass: _has_any(_BATCH_NORM),
        DecomposeBatchNorm: _has_any(_BATCH_NORM),
        Conv1dUnsqueezePass: _has_any({"aten.convolution.default"}),
        PReLUReshapePass: _has_any({"aten._prelu_kernel.default"}),
        InsertPadQDQPass: _has_any({"aten.constant_pad_nd.default"}),
        RemoveGetItemPass: _has_any({"aten.max_pool2d_with_indices.default", "aten.max.dim"}),
        DimOrderOpsRevertPass: _dim_order_op,
        DecomposeConcatenate: _long_concat,
    }


_lock = threading.RLock()


@contextlib.contextmanager
def only_applicable_xnnpack_passes(skipped: dict[str, int] | None = None):
    """While inside, XNNPACK's preprocess runs only the passes that may change each subgraph; `skipped` counts
    the passes left out, by name."""
    from executorch.backends.xnnpack import xnnpack_preprocess

    stock = xnnpack_preprocess.XNNPACKPassManager
    gates = pass_gates()

    class ApplicablePasses(stock):
        def __init__(self, exported_program, passes=None):
            super().__init__(exported_program, passes)
            self.chosen = bool(passes)  # a compile spec chose the passes: run them all

        def transform(self):
            # One pass at a time through the stock loop, each gate asked on the graph the passes before it left.
            every, ep = self.passes, self.exported_program
            for pass_ in every:
                gate = None if self.chosen else gates.get(pass_)
                if gate is not None and not gate(ep.graph_module.graph):
                    if skipped is not None:
                        skipped[pass_.__name__] = skipped.get(pass_.__name__, 0) + 1
                    continue
                self._exported_program, self.passes = ep, [pass_]
                ep = super().transform()
            self.passes = every
            return ep

    with _lock:
        xnnpack_preprocess.XNNPACKPassManager = ApplicablePasses
        try:
            yield
        finally:
            xnnpack_preprocess.XNNPACKPassManager = stock
