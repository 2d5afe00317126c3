"""Lower an EdgeDecoder to one ExecuTorch program: static KV cache, dynamic prompt length, XNNPACK delegation.

One method (`forward(tokens (1, S), input_pos (1,)) -> logits (1, S, V)`) serves prefill and decode: S is a
dynamic dim (1 .. max_len), the caches are mutable buffers of the program. The constant methods the stock
ExecuTorch LLM runner reads (extension/llm/runner: get_max_seq_len, get_max_context_len, get_vocab_size,
use_kv_cache, enable_dynamic_shape, ...) are written into the .pte, so the bundle also runs in
`executorch.extension.llm.runner.TextLLMRunner` / the Android LLM demo app unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from edgeslm.backends.executorch.xnnpack_passes import only_applicable_xnnpack_passes
from edgeslm.backends.quiet import quiet_exporter
from edgeslm.errors import InternalError, UnsupportedError
from edgeslm.kernels.executorch_sdpa import StaticCacheDecoder
from edgeslm.model.decoder import EdgeDecoder

MODEL_FILE = "model.pte"
METHOD = "forward"


@dataclass
class LoweringReport:
    """What the lowering did, for the manifest: op counts by where they run, and the constant methods."""

    delegated: dict[str, int] = field(default_factory=dict)  # edge op -> count, inside XNNPACK delegates
    portable: dict[str, int] = field(default_factory=dict)  # edge op -> count, left to ExecuTorch's CPU kernels
    delegates: int = 0  # lowered XNNPACK subgraphs
    custom_sdpa: int = 0
    metadata: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    xnnpack_passes_skipped: dict = field(default_factory=dict)  # pass -> subgraphs it had nothing to rewrite in


def io_layout(decoder: EdgeDecoder, max_len: int) -> dict:
    spec = decoder.spec
    return {
        "inputs": ["tokens", "input_pos"], "outputs": ["logits"], "method": METHOD,
        "kv_cache": {"layout": "(batch, max_len, kv_heads, head_dim)", "kind": "static, inside the program",
                     "layers": spec.layers, "kv_heads": spec.kv_heads, "head_dim": spec.head_dim,
                     "max_len": max_len, "dtype": "float32"},
        "logits": "(1, S, vocab): every position of the call",
        "max_positions": max_len, "vocab_size": spec.vocab_size, "batch": 1,
    }


def runner_metadata(decoder: EdgeDecoder, max_len: int) -> dict:
    """Constant methods read by ExecuTorch's LLM runner (names from extension/llm/runner/constants.h)."""
    meta = {
        "get_max_seq_len": max_len,  # the longest single call (a prompt prefilled at once)
        "get_max_context_len": max_len,  # the cache length
        "get_vocab_size": decoder.spec.vocab_size,
        "get_n_layers": decoder.spec.layers,
        "use_kv_cache": True,
        "use_sdpa_with_kv_cache": True,
        "enable_dynamic_shape": True,
    }
    return meta


def quiet():
    return quiet_exporter("torch.export", "torch._dynamo", "executorch", "torchao", "root")


def export_program(model: torch.nn.Module, max_len: int):
    """torch.export with strict=True: the non-strict tracer lifts the mutated cache buffers twice (as a buffer
    and as a constant) and lowering then fails."""
    tokens = torch.zeros(1, 2, dtype=torch.long)  # 2, not 1: a size-1 example would be specialised
    input_pos = torch.zeros(1, dtype=torch.long)
    seq = torch.export.Dim("seq_len", min=1, max=max_len)
    with torch.no_grad():
        return torch.export.export(model, (tokens, input_pos), dynamic_shapes=({1: seq}, None), strict=True)


def _count_ops(graph_module) -> tuple[dict[str, int], dict[str, int], int]:
    from executorch.exir.lowered_backend_module import get_lowered_submodules

    portable: dict[str, int] = {}
    delegated: dict[str, int] = {}
    lowered = get_lowered_submodules(graph_module)
    for _name, module, _node in lowered:
        for node in module.original_module.graph.nodes:
            if node.op == "call_function":
                key = _op_name(node.target)
                delegated[key] = delegated.get(key, 0) + 1
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and "executorch_call_delegate" not in str(node.target) \
                and node.target.__name__ != "getitem":
            key = _op_name(node.target)
            portable[key] = portable.get(key, 0) + 1
    return dict(sorted(delegated.items())), dict(sorted(portable.items())), len(lowered)


def _op_name(target) -> str:
    name = getattr(target, "__name__", str(target))
    return name.replace("aten.", "").replace(".default", "")


def lower_to_pte(model: EdgeDecoder, max_len: int, path: Path, metadata: dict) -> LoweringReport:
    """Export + partition + to_executorch of the (quantized, rewritten) decoder; writes the .pte and returns what
    ran where."""
    import time

    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass
    from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

    report = LoweringReport(metadata=metadata)
    wrapper = StaticCacheDecoder(model, max_len).eval()
    t = time.perf_counter()
    with quiet():
        try:
            program = export_program(wrapper, max_len)
        except Exception as exc:  # torch.export names the unsupported construct; keep its message
            raise UnsupportedError(f"torch.export could not capture the {model.spec.model_type} decoder for "
                                   f"ExecuTorch: {str(exc).splitlines()[0][:300]}",
                                   hint="Use --format onnx for this model, or rerun with --debug.") from exc
        report.seconds["torch_export"] = time.perf_counter() - t
        report.custom_sdpa = sum(n.op == "call_function" and "custom_sdpa" in str(n.target)
                                 for n in program.graph.nodes)
        t = time.perf_counter()
        with only_applicable_xnnpack_passes(report.xnnpack_passes_skipped):
            edge = to_edge_transform_and_lower(
                program, partitioner=[XnnpackPartitioner()], constant_methods=metadata,
                # The llama custom ops are not core ATen: the edge IR check would reject them.
                compile_config=EdgeCompileConfig(_check_ir_validity=False, _skip_dim_order=True))
        report.seconds["to_edge_and_partition"] = time.perf_counter() - t
        report.delegated, report.portable, report.delegates = _count_ops(edge.exported_program().graph_module)
        t = time.perf_counter()
        et = edge.to_executorch(ExecutorchBackendConfig(
            extract_delegate_segments=True,
            memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False),
            sym_shape_eval_pass=ConstraintBasedSymShapeEvalPass()))
        report.seconds["to_executorch"] = time.perf_counter() - t
    if report.custom_sdpa != model.spec.layers:
        raise InternalError(f"expected {model.spec.layers} custom_sdpa calls, found {report.custom_sdpa}",
                            hint="The ExecuTorch kernel did not run in every layer; rerun with --debug.")
    t = time.perf_counter()
    path.write_bytes(et.buffer)
    report.seconds["write"] = time.perf_counter() - t
    return report
