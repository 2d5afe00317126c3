"""Trace the stateful wrapper, convert it with coremltools (iOS 18, fp16), quantize with coremltools.optimize.

One ML program serves prefill (S tokens) and decode (S = 1), in swift-transformers' stateful convention
(kernels/coreml_sdpa.py): `inputIds (1, S)` and `causalMask (1, 1, Q, P + S + 1)` (only its width is read) are
flexible through ct.RangeDim up to the cache length; the KV cache is two fp16 states, `keyCache` and `valueCache`.
"""

from __future__ import annotations

import numpy as np
import torch

from edgeslm.backends.coreml.contract import INPUTS, OUTPUT, STATES, position_mask_shape
from edgeslm.backends.quiet import quiet_exporter
from edgeslm.errors import InternalError
from edgeslm.kernels.coreml_sdpa import StatefulDecoder
from edgeslm.quant import QuantScheme

# Ops whose rank-2 weights the quantizer compresses: projections (linear) and embedding tables (gather).
# Everything else stays fp16 on purpose: norms and biases are rank 1 (never compressed), and the rotary
# tables feed slice_by_index: a global config would quantize those too (2048 x 32 on SmolLM2).
QUANTIZED_OP_TYPES = ("linear", "gather")
WEIGHT_THRESHOLD = 256  # elements; the tiny test models' k/v projections (2048) must be compressed too


def quiet():
    """coremltools prints progress bars and notices on stdout/stderr; stdout is for results (convention 6)."""
    return quiet_exporter("coremltools", "torch.jit", stderr=True)


def trace(decoder, max_len: int) -> torch.jit.ScriptModule:
    """The wrapper traced with distinct example sizes (S=3, P=2) so no dynamic dim is frozen to another."""
    wrapper = StatefulDecoder(decoder, max_len).eval()
    example = (torch.zeros(1, 3, dtype=torch.int32), torch.zeros(position_mask_shape(2, 3)))
    with torch.no_grad(), quiet():
        traced = torch.jit.trace(wrapper, example, check_trace=False)
    wrapper.reset()
    traced.keyCache.zero_()
    traced.valueCache.zero_()
    return traced


def io_layout(decoder, max_len: int) -> dict:
    spec = decoder.spec
    state = [spec.layers, 1, spec.kv_heads, max_len, spec.head_dim]
    return {
        "inputs": {INPUTS[0]: {"shape": ["1", f"S (1..{max_len})"], "dtype": "int32"},
                   INPUTS[1]: {"shape": ["1", "1", f"Q (1..{max_len})", f"P + S + 1 (2..{max_len + 1})"],
                               "dtype": "float16",
                               "meaning": "only the width is read: P = width - S - 1 cached tokens; zeros, as "
                                          "swift-transformers' LanguageModel passes (causality is in the graph)"}},
        "outputs": {OUTPUT: {"shape": ["1", "S", str(spec.vocab_size)], "dtype": "float16"}},
        "states": {name: {"shape": state, "dtype": "float16",
                          "layout": "(layers, batch, kv_heads, max_len, head_dim)"} for name in STATES},
        "kv_cache": {"layout": "state", "layers": spec.layers, "kv_heads": spec.kv_heads,
                     "head_dim": spec.head_dim, "dtype": "float16", "max_len": max_len},
        "sliding_window": "computed in the graph from the position (one mask input for every layer)",
        "convention": "swift-transformers LanguageModelWithStatefulKVCache",
        "max_positions": max_len, "vocab_size": spec.vocab_size, "batch": 1,
        "minimum_deployment_target": "iOS18",
    }


def convert(traced: torch.jit.ScriptModule, max_len: int, state_shape: tuple[int, ...],
            extra_passes: tuple[str, ...] = ()):
    """The traced wrapper as an iOS 18 ML program (fp16). `extra_passes`: registered MIL passes run after
    coremltools' default pipeline (the streamed path's `edgeslm::projections_as_linear`)."""
    import coremltools as ct

    pipeline = ct.PassPipeline.DEFAULT
    for name in extra_passes:
        pipeline.append_pass(name)

    s = ct.RangeDim(1, max_len, default=1, symbol="S")
    rows = ct.RangeDim(1, max_len, default=1, symbol="Q")
    width = ct.RangeDim(2, max_len + 1, default=2, symbol="W")
    state_type = ct.TensorType(shape=state_shape, dtype=np.float16)
    with quiet():
        try:
            return ct.convert(
                traced, convert_to="mlprogram",
                inputs=[ct.TensorType(INPUTS[0], shape=(1, s), dtype=np.int32),
                        ct.TensorType(INPUTS[1], shape=(1, 1, rows, width), dtype=np.float16)],
                outputs=[ct.TensorType(OUTPUT, dtype=np.float16)],
                states=[ct.StateType(wrapped_type=state_type, name=n) for n in STATES],
                minimum_deployment_target=ct.target.iOS18, compute_precision=ct.precision.FLOAT16,
                pass_pipeline=pipeline, skip_model_load=True)
        except Exception as exc:  # coremltools raises bare ValueError/RuntimeError/AssertionError
            raise InternalError(f"coremltools could not convert the stateful decoder: {exc}",
                                hint="Rerun with --debug for the traceback; report it with the model's config."
                                ) from exc


def quantizer_config(scheme: QuantScheme, op_types: tuple[str, ...] = QUANTIZED_OP_TYPES):
    """The scheme as coremltools.optimize's own config for the weights of `op_types` (None for fp16: the float
    baseline)."""
    import coremltools.optimize.coreml as cto

    if scheme.name == "int4":
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int4", granularity="per_block",
                                         block_size=scheme.group_size, weight_threshold=WEIGHT_THRESHOLD)
    elif scheme.name == "int8":
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                         weight_threshold=WEIGHT_THRESHOLD)
    else:
        return None
    return cto.OptimizationConfig(op_type_configs={t: op for t in op_types})


def native_quant(scheme: QuantScheme) -> dict:
    base = {"tool": "coremltools.optimize.coreml", "compute_precision": "float16", "activations": "float16"}
    if scheme.name == "int4":
        return {**base, "api": "linear_quantize_weights", "mode": "linear_symmetric", "dtype": "int4",
                "granularity": "per_block", "block_size": scheme.group_size, "op_types": list(QUANTIZED_OP_TYPES),
                "weight_threshold": WEIGHT_THRESHOLD}
    if scheme.name == "int8":
        return {**base, "api": "linear_quantize_weights", "mode": "linear_symmetric", "dtype": "int8",
                "granularity": "per_channel", "op_types": list(QUANTIZED_OP_TYPES),
                "weight_threshold": WEIGHT_THRESHOLD}
    return {**base, "weights": "float16"}


def any_float_weight(mlmodel, op_types: tuple[str, ...], threshold: int) -> bool:
    """Whether an op of ``op_types`` still reads a float const of at least ``threshold`` elements: what
    coremltools' weight quantizer would compress (its ``weight_threshold`` counts elements the same way)."""
    from edgeslm.backends.coreml.mil import _weight_input, operations, program_of

    for op in operations(program_of(mlmodel).mil):
        source = _weight_input(op) if op.op_type in op_types else None  # the quantizer compresses this input only
        if source is None or source.op_type != "const":
            continue
        value = np.asarray(source.outputs[0].val)
        if np.issubdtype(value.dtype, np.floating) and value.size >= threshold:
            return True
    return False


def quantize(mlmodel, scheme: QuantScheme, op_types: tuple[str, ...] = QUANTIZED_OP_TYPES):
    config = quantizer_config(scheme, op_types)
    if config is None:
        return mlmodel
    import coremltools.optimize.coreml as cto

    with quiet():
        return cto.linear_quantize_weights(mlmodel, config=config)
