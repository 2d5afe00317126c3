"""Carry a GGUF source's Q4_0 / Q4_1 / Q8_0 blocks into the Core ML program instead of re-rounding them.

A GGUF model (the embedded SmolLM2 default is Q4_1) is already 4-bit on a grid of its own. Re-quantizing its
dequantized weights onto coremltools' symmetric int4 grid rounds every weight a second time (on SmolLM2 the
ONNX backend measured 7.5 dB / 0.36 top-1 for that, a verify failure). iOS 18's constexpr_blockwise_shift_scale
evaluates scale * (data - offset) per block, which holds each ggml block exactly:

    Q4_0: value = d * (q - 8)        -> data uint4 q, scale d (fp16, exact), offset uint4 8
    Q8_0: value = d * q              -> data uint8 q + 128, scale d, offset uint8 128
    Q4_1: value = d * q + m          -> data uint4 q, scale d, offset fp16 -m/d (the one rounding: |m| * 2^-11)

Blocks run along the input dim (K) in ggml and in Core ML's linear weight (N, K), so the layouts agree; the
q/k rows of llama GGUFs are un-permuted as transformers does.

Which types carry depends on the scheme: a projection's block is carried only where it is no wider than the
scheme's weights (under int4 the 4-bit Q4_0 / Q4_1); a wider projection is left float for the scheme's quantizer.
The embedding table (llama.cpp's usual Q8_0, tied to the head) is carried 8-bit as it is, once for the gather and
the head, as the ONNX (GatherBlockQuantized) and ExecuTorch (8-bit embedding) bundles keep it. Measured on
SmolLM2: the table at coremltools' int4 gave 17.9 dB / top-1 0.81 prompts, 0.84 decode (stored-weights check)
and failed the clinical gate (answer agreement 0.850 on 40 questions, max option-probability change 0.283, mean
KL 6.6e-2: six PubMedQA answers flipped); kept 8-bit, 54.9 dB / top-1 1.00 at 94.4 MiB instead of 80.0 MiB, of
which Q4_1's fp16 offsets are 6.3 MiB. Those offsets cannot go:
rounding the offset to an integer zero point (or refitting each block with one) measured 5.1-5.3 dB / 0.44,
the same failure as re-rounding. The GGUF block decoding and the carry decision are shared by every backend
(edgeslm.sources.gguf_blocks); this module only packs the blocks into Core ML's constexpr op.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgeslm.errors import InternalError
from edgeslm.sources.gguf_blocks import carry_decision, decode_blocks, read_gguf_tensors
from edgeslm.sources.gguf_names import gguf_tensor_name, unpermute_rows_for


def gguf_blocks(tensor, rows: np.ndarray | None = None, qtype=None):
    """(data, scale, offset) for constexpr_blockwise_shift_scale from one ggml tensor (a gguf.ReaderTensor,
    or raw blocks with their qtype), rows un-permuted by `rows`."""
    from coremltools.converters.mil.mil import types

    blocks = decode_blocks(tensor, qtype, rows=rows)
    level = types.nptype_from_builtin(types.uint8 if blocks.bits == 8 else types.uint4)
    scale = blocks.scale.astype(np.float16)  # ggml's d is an fp16: exact
    data = blocks.q.astype(level)
    if blocks.offset is not None:  # Q4_1: d * q + m = d * (q - (-m/d)), a float offset
        offset = ((-blocks.offset) / blocks.scale).astype(np.float32).astype(np.float16)
    else:
        offset = np.full((blocks.N, blocks.k_blocks), blocks.zero_point, dtype=level)
    return data, scale, offset


TABLES = ("embed", "lm_head")  # carried at their GGUF width even when wider than the scheme's weights


GGUF_CARRY_PASS = "edgeslm::gguf_carry"
_ACTIVE = threading.local()  # per thread: the carries the registered pass applies while a conversion runs


@dataclass
class GGUFCarry:
    """A prepared carry: ``apply(prog)`` rewrites a converted MIL program; what it did lands in ``carried``
    {name: gguf type}, ``left_over`` {name: reason} (no exact layout) and ``wider`` {name: gguf type} (blocks wider
    than the scheme's weights, left float for coremltools' quantizer)."""

    apply: Callable
    carried: dict = field(default_factory=dict)
    left_over: dict = field(default_factory=dict)
    wider: dict = field(default_factory=dict)


def register_carry_pass() -> str:
    """Register the carry as the coremltools MIL pass ``edgeslm::gguf_carry`` (once per process), so ``convert``
    runs it at the end of its own pipeline, inside ``carrying(...)``: applied to the converted model instead
    (coremltools' ``_apply_graph_pass``), the MLModel round trip cost ~45 s of the default model's export."""
    from coremltools.converters.mil.mil.passes.graph_pass import AbstractGraphPass
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY, register_pass

    if GGUF_CARRY_PASS not in PASS_REGISTRY:

        @register_pass(namespace="edgeslm", name="gguf_carry")
        class _GGUFCarryPass(AbstractGraphPass):
            def apply(self, prog):
                active = getattr(_ACTIVE, "stack", None)
                if not active:  # a pipeline naming this pass outside `carrying` would silently carry nothing
                    raise InternalError("the edgeslm::gguf_carry pass ran with no carry prepared",
                                        hint="convert inside `with carrying(gguf_carry(...))`")
                active[-1].apply(prog)

    return GGUF_CARRY_PASS


@contextlib.contextmanager
def carrying(carry: GGUFCarry):
    """While the block runs, the registered pass applies ``carry``."""
    stack = _ACTIVE.__dict__.setdefault("stack", [])
    stack.append(carry)
    try:
        yield carry
    finally:
        stack.pop()


def gguf_carry(decoder, gguf_path: Path, weight_bits: int = 4) -> GGUFCarry:
    """The carry of ``gguf_path``'s blocks into ``decoder``'s converted program, ready to apply. Runs on the float
    program, before coremltools' quantizer: what is carried is no longer a float const, so the quantizer
    compresses only the rest."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil.passes.helper import block_context_manager
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY

    from edgeslm.backends.coreml.host_verify import projection_call_order
    from edgeslm.backends.coreml.mil import EMBED_PREFIXES, _weight_input

    _reader, tensors = read_gguf_tensors(gguf_path)
    names = {id(m): n for n, m in decoder.named_modules()}
    proj_names = [names[id(p)] for p in projection_call_order(decoder)]
    spec = decoder.spec
    carried: dict[str, str] = {}
    left_over: dict[str, str] = {}
    wider: dict[str, str] = {}
    made: dict[tuple[str, int], object] = {}  # (GGUF tensor, program const) -> its constexpr: a tied table once

    def apply(prog):
        projections = iter(proj_names)

        @block_context_manager
        def run(block):
            for op in list(block.operations):
                if op.op_type not in ("linear", "gather") or (source := _weight_input(op)) is None:
                    continue
                if op.op_type == "gather":
                    # Inside the conversion names still have dots; the saved program has underscores.
                    label = source.name.replace(".", "_")
                    embed = next((n for p, n in EMBED_PREFIXES.items() if label.startswith(p)), None)
                    if embed != "embed":
                        continue
                    name = "embed"
                else:
                    name = next(projections)
                _carry(op, name, source)

        run(prog.functions["main"])
        PASS_REGISTRY["common::dead_code_elimination"](prog)

    def _carry(op, name, source):
        gname = gguf_tensor_name(name, tensors)
        if gname is None or gname not in tensors:
            left_over[name] = f"no GGUF tensor for it ({gname})"
            return
        t = tensors[gname]
        decision = carry_decision(t.tensor_type.name, weight_bits)
        if decision.kind == "none":
            left_over[name] = f"GGUF {t.tensor_type.name}: {decision.reason}"
            return
        if decision.kind == "wider" and name not in TABLES:
            wider[name] = t.tensor_type.name
            return
        old = source.outputs[0]
        new = made.get((gname, id(source)))
        if new is None:
            rows = unpermute_rows_for(name, int(t.shape[1]), spec.heads, spec.kv_heads)
            data, scale, offset = gguf_blocks(t, rows)
            if tuple(data.shape) != tuple(old.shape):
                left_over[name] = f"shape {tuple(old.shape)} in the program, {tuple(data.shape)} in the GGUF"
                return
            # Named like the converter's own weights (decoder_<module>_weight...): mil.py finds embeddings by it.
            label = f"decoder_{name.replace('.', '_')}_weight_gguf_{t.tensor_type.name.lower()}"
            new = mb.constexpr_blockwise_shift_scale(data=data, scale=scale, offset=offset, before_op=op,
                                                     name=label)
            made[(gname, id(source))] = new
        # Only this consumer switches: a tied table used by another op keeps its own weight there.
        op.enclosing_block.replace_uses_of_var_after_op(anchor_op=new.op, old_var=old, new_var=new,
                                                        end_op=op, no_check_var_types=True, force_replace=True)
        carried[name] = t.tensor_type.name

    return GGUFCarry(apply, carried, left_over, wider)
