"""The host runner for ONNX bundles: onnxruntime, batch 1, KV cache kept between calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeslm.errors import UserError

MODEL_FILE = "model.onnx"


def session_options(threads: int | None, profile_prefix: str | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if profile_prefix:  # per-operator timings (edgeslm profile --ops); costs a little time per node
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return opts


def exact_arithmetic_model(path: Path) -> bytes:
    """The bundle's graph with every MatMulNBits computing in float32 (accuracy_level 0) instead of int8
    activation blocks: same stored weights, no arithmetic shortcut (the lowering-exactness check runs it)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            for attr in node.attribute:
                if attr.name == "accuracy_level":
                    attr.i = 0
    return model.SerializeToString()


class OnnxRunner:
    def __init__(self, bundle_dir: Path | str, threads: int | None = None, model_file: str = MODEL_FILE,
                 profile_prefix: str | None = None, exact_arithmetic: bool = False):
        import onnxruntime as ort

        path = Path(bundle_dir) / model_file
        if not path.is_file():
            raise UserError(f"no {model_file} in {bundle_dir}", hint="Point at a bundle written by `edgeslm export`.")
        options = session_options(threads, profile_prefix)
        model = str(path)
        if exact_arithmetic:
            options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                             str(path.parent))
            model = exact_arithmetic_model(path)
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        self.past_names = [n for n in names if n.startswith("past_key_values.")]
        self.output_names = [o.name for o in self.session.get_outputs()]
        first = self.session.get_inputs()[names.index(self.past_names[0])]
        self.kv_heads, self.head_dim = first.shape[1], first.shape[3]
        self.reset()

    def reset(self) -> None:
        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)
        self.cache = [empty] * len(self.past_names)
        self.length = 0

    def _step(self, ids: np.ndarray) -> np.ndarray:
        total = self.length + ids.shape[1]
        feeds = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones((1, total), dtype=np.int64)}
        feeds.update(zip(self.past_names, self.cache))
        logits, *self.cache = self.session.run(self.output_names, feeds)
        self.length = total
        return logits[0]

    def prefill(self, input_ids: np.ndarray) -> np.ndarray:
        return self._step(np.asarray(input_ids).reshape(1, -1))

    def decode(self, token_id: int) -> np.ndarray:
        return self._step(np.array([[token_id]], dtype=np.int64))[-1]
