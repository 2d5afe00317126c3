"""Verify a Core ML package where Core ML itself may not run (Linux CI): every check that does not need the
runtime, and on macOS the real runtime too. Each check is recorded as run or not run, with the reason.

Checks:
- trace: the traced fp32 wrapper (the very module coremltools converted) against the PyTorch reference,
  every prompt position + teacher-forced decode, fp32 tolerance. Covers the stateful cache, the flexible
  shapes, the mask and sliding windows, rotary at an offset.
- structure: the package's MIL program: the two state inputs, one fused scaled_dot_product_attention per
  layer, every projection and embedding stored in the scheme's format (no float weight left unrecorded).
- package: reload of model.mlpackage from disk (skip_model_load) and its size.
- stored_weights: the weights read back from the package on disk, dequantized with numpy, put into the
  PyTorch wrapper and measured against the reference with the scheme's tolerance. After this only Core ML's
  runtime arithmetic (fp16 activations, its kernels) is unchecked.
- coreml_predict (macOS only): MLModel.predict with make_state() through a Runner, scheme's tolerance.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import torch

from edgeslm.backends.coreml.contract import MODEL_DIR, STATES, position_mask_shape
from edgeslm.backends.coreml.convert import trace
from edgeslm.backends.coreml.mil import (QUANT_OP, StoredWeights, load_program, op_counts, state_names,
                                         stored_weights)
from edgeslm.errors import InternalError
from edgeslm.kernels.coreml_sdpa import EagerRunner, StatefulDecoder
from edgeslm.model.decoder import Proj
from edgeslm.quant import QuantScheme
from edgeslm.verify.check import judge
from edgeslm.verify.metrics import VerifyMetrics, measure
from edgeslm.verify.thresholds import tolerance_for

MAC_REASON = ("needs macOS: Core ML's runtime (MLModel.predict with make_state) exists only on Apple platforms; "
              "it checks the fp16 arithmetic on CPU/GPU/Neural Engine and the runtime's state and fused kernels")


def coreml_runtime_available() -> str | None:
    """None when MLModel.predict can run here, else why not."""
    if sys.platform != "darwin":
        return MAC_REASON
    try:
        from coremltools.libcoremlpython import _MLModelProxy  # noqa: F401  (the compiled runtime bridge)
    except ImportError as exc:
        return f"coremltools has no Core ML runtime bridge on this Mac ({exc})"
    return None


def projection_call_order(decoder, kinds: tuple[type, ...] = (Proj,)) -> list:
    """The decoder's projections (modules of `kinds`) in the order one forward pass calls them (the traced and MIL
    order)."""
    order: list = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
             for m in decoder.modules() if isinstance(m, kinds)]
    try:
        wrapper = StatefulDecoder(decoder, 4)
        with torch.no_grad():
            wrapper(torch.zeros(1, 2, dtype=torch.int32), torch.zeros(position_mask_shape(0, 2)))
    finally:
        for h in hooks:
            h.remove()
    return order


def paired_in_call_order(decoder, stored: list, kinds: tuple[type, ...] = (Proj,)) -> list[tuple]:
    """(projection module, stored entry) pairs: the package's projection weights are in program order, which is
    the order one forward pass calls the decoder's projections."""
    projs = projection_call_order(decoder, kinds)
    if len(projs) != len(stored):
        raise InternalError(f"the package has {len(stored)} projection weights, the decoder {len(projs)}",
                            hint="A MIL pass merged or split projections; map them by shape.")
    return list(zip(projs, stored))


def with_stored_weights(decoder, stored: StoredWeights):
    """A copy of the decoder carrying the weights the package stores (dequantized)."""
    clone = copy.deepcopy(decoder)
    for proj, (name, w) in paired_in_call_order(clone, stored.projections):
        want = proj.weight_t.detach().t().numpy()  # (out, in), the layout of MIL linear
        if w.shape != want.shape:
            raise InternalError(f"stored weight {name} is {w.shape}, its projection {want.shape}",
                                hint="The MIL op order differs from the forward order; map them by shape.")
        rel = float(np.linalg.norm(w - want) / max(np.linalg.norm(want), 1e-12))
        if rel > 0.5:  # int4 blocks of 32 measure ~0.1; a mismatched pairing measures ~1.4
            raise InternalError(f"stored weight {name} does not match its projection (relative error {rel:.2f})",
                                hint="The MIL op order differs from the forward order.")
        proj.weight_t.data = torch.from_numpy(np.ascontiguousarray(w.T))
    for attr, w in stored.embeddings.items():
        getattr(clone, attr).weight.data = torch.from_numpy(w)
    return clone


def _check(name: str, passed: bool, detail: dict) -> dict:
    return {"name": name, "passed": passed, **detail}


def host_verify(decoder, scheme: QuantScheme, bundle_dir: Path, references, threads=None,
                runner_factory=None) -> tuple[VerifyMetrics, dict]:
    package = Path(bundle_dir) / MODEL_DIR
    spec = decoder.spec
    run, not_run, failures = [], [], []
    max_len = spec.max_positions

    # 1. trace: the converted module itself, in fp32.
    metrics = measure(EagerRunner(trace(decoder, max_len)), references)
    verdict = judge(metrics, tolerance_for("fp32"))
    run.append(_check("trace", verdict.passed, {"what": "traced fp32 wrapper vs PyTorch reference",
                                                "metrics": metrics.to_dict()}))
    failures += [f"trace: {f}" for f in verdict.failures]

    # 2. structure + 3. package reload.
    program = load_program(package)
    counts = op_counts(program.mil)
    stored = stored_weights(program.mil)
    problems = []
    if state_names(program.spec) != list(STATES):
        problems.append(f"states {state_names(program.spec)} != {list(STATES)}")
    if counts.get("scaled_dot_product_attention", 0) != spec.layers:
        problems.append(f"{counts.get('scaled_dot_product_attention', 0)} fused attention ops for {spec.layers} layers")
    weights = sum(stored.kinds.values())
    if not scheme.is_float and stored.kinds.get(QUANT_OP, 0) + len(stored.float_left) != weights:
        problems.append(f"weights stored as {stored.kinds}")
    run.append(_check("structure", not problems, {
        "states": state_names(program.spec), "fused_attention": counts.get("scaled_dot_product_attention", 0),
        "weights_by_storage": stored.kinds, "problems": problems,
        "float_weights_left": [] if scheme.is_float else stored.float_left}))
    failures += [f"structure: {p}" for p in problems]
    size = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
    run.append(_check("package", True, {"what": "model.mlpackage reloads with coremltools (skip_model_load)",
                                        "bytes": size}))

    # 4. stored weights, dequantized, in the PyTorch wrapper: the scheme's tolerance.
    clone = with_stored_weights(decoder, stored)
    weight_metrics = measure(EagerRunner(StatefulDecoder(clone, max_len).eval()), references)
    verdict = judge(weight_metrics, tolerance_for(scheme.name))
    run.append(_check("stored_weights", verdict.passed, {
        "what": "weights read back from the package, dequantized, run in the fp32 PyTorch wrapper",
        "metrics": weight_metrics.to_dict()}))
    primary, runtime = weight_metrics, "host pytorch (weights read back from the Core ML package)"

    # 5. the real runtime, where it exists.
    why_not = coreml_runtime_available()
    if why_not is None and runner_factory is not None:
        predict_metrics = measure(runner_factory(), references)
        verdict = judge(predict_metrics, tolerance_for(scheme.name))
        run.append(_check("coreml_predict", verdict.passed, {"what": "MLModel.predict with make_state()",
                                                             "metrics": predict_metrics.to_dict()}))
        primary, runtime = predict_metrics, "coreml (MLModel.predict)"
    else:
        not_run.append({"name": "coreml_predict", "reason": why_not or "no runner"})
    return primary, {"runtime": runtime, "run": run, "not_run": not_run, "failures": failures}
