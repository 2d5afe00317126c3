"""Lower an EdgeDecoder to one ONNX decoder graph with a KV cache (torch.onnx, dynamo exporter).

One graph serves a prompt of any length (past empty) and single-token decode (past = the cache).
Names follow the onnxruntime-genai convention: input_ids, attention_mask, past_key_values.<i>.key|value
-> logits, present.<i>.key|value; caches are (batch, kv_heads, seq, head_dim).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from edgeslm.backends.quiet import quiet_exporter
from edgeslm.errors import InternalError
from edgeslm.kernels.onnx_gqa import TRANSLATIONS, OnnxGQAKernel
from edgeslm.model.decoder import EdgeDecoder

OPSET = 21  # int4 initializers (MatMulNBits, GatherBlockQuantized) need opset 21 types


def io_names(layers: int) -> tuple[list[str], list[str]]:
    past = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    return ["input_ids", "attention_mask", *past], ["logits", *present]


def io_layout(decoder: EdgeDecoder) -> dict:
    spec = decoder.spec
    inputs, outputs = io_names(spec.layers)
    return {
        "inputs": inputs, "outputs": outputs,
        "kv_cache": {"layout": "(batch, kv_heads, seq, head_dim)", "layers": spec.layers,
                     "kv_heads": spec.kv_heads, "head_dim": spec.head_dim, "dtype": "float32",
                     "past_prefix": "past_key_values", "present_prefix": "present"},
        "max_positions": spec.max_positions, "vocab_size": spec.vocab_size, "batch": 1,
    }


def _quiet_exporter():
    return quiet_exporter("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")


def export_program(decoder: EdgeDecoder):
    """Trace the decoder with the fused-attention kernel into an ONNX program, not yet optimized.

    The decoder may live on the meta device (the streaming export): tracing needs shapes, not weights.
    Returns the program and the kernel (which records its fallbacks while tracing).
    """
    kernel = OnnxGQAKernel()
    model = decoder.with_kernel(kernel)
    spec = decoder.spec
    inputs, outputs = io_names(spec.layers)
    device = decoder.embed.weight.device
    # Example sizes all distinct (S=3, P=2, T=5) so the exporter cannot merge the dynamic dims.
    ids = torch.zeros(1, 3, dtype=torch.long, device=device)
    mask = torch.ones(1, 5, dtype=torch.long, device=device)
    past = [torch.zeros(1, spec.kv_heads, 2, spec.head_dim, device=device) for _ in range(2 * spec.layers)]
    seq = torch.export.Dim("sequence_length", min=1, max=spec.max_positions)
    total = torch.export.Dim("total_sequence_length", min=1, max=spec.max_positions)
    past_len = torch.export.Dim("past_sequence_length", min=0, max=spec.max_positions)
    dynamic = ({1: seq}, {1: total}, tuple({2: past_len} for _ in past))
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            model, (ids, mask, *past), dynamo=True, dynamic_shapes=dynamic, custom_translation_table=TRANSLATIONS,
            input_names=inputs, output_names=outputs, opset_version=OPSET, optimize=False, verbose=False)
    return program, kernel


def optimize_program(program) -> None:
    """onnxscript's optimizer (constant folding, rewrites), as `torch.onnx.export(optimize=True)` runs it."""
    with _quiet_exporter():
        program.optimize()


def check_attention(proto: onnx.ModelProto, layers: int) -> None:
    """Every layer's attention must have become one fused node; name them `layers.<i>.attention`."""
    fused = sum(n.op_type == "GroupQueryAttention" for n in proto.graph.node)
    if fused != layers:
        raise InternalError(f"expected {layers} fused attention nodes, found {fused}",
                            hint="The GQA translation did not apply to every layer; rerun with --debug.")
    _name_attention_nodes(proto)


def lower_to_onnx(decoder: EdgeDecoder, path: Path, replicate_layers: bool = True) -> tuple[onnx.ModelProto, dict]:
    """Export the float graph; returns the model proto (weights in memory) and the kernel's fallbacks.

    With ``replicate_layers`` a decoder whose layers all compute the same graph is traced with two layers and the
    rest are copies of the second (backends/onnx/replicate_layers.py); otherwise, or when the trace does not have
    the expected structure, the whole decoder is traced."""
    from edgeslm.backends.onnx.replicate_layers import can_replicate, replicate, two_layer_decoder

    proto = None
    if replicate_layers and can_replicate(decoder):
        try:  # the shortcut is optional: whatever goes wrong in it, the whole model is traced as before
            program, kernel = export_program(two_layer_decoder(decoder))
            optimize_program(program)
            proto = replicate(program.model_proto, decoder)
            del program
        except Exception:  # noqa: BLE001  NotReplicable (an unexpected graph shape) or a failed two-layer trace
            proto = None
    if proto is None:
        program, kernel = export_program(decoder)
        optimize_program(program)
        proto = program.model_proto
    check_attention(proto, decoder.spec.layers)
    return proto, dict(kernel.fallbacks)


def _name_attention_nodes(proto: onnx.ModelProto) -> None:
    """Stable, readable node names for the fused attention: `layers.<i>.attention`."""
    index = 0
    for node in proto.graph.node:
        if node.op_type == "GroupQueryAttention":
            node.name = f"layers.{index}.attention"
            index += 1
