"""Which stock runtimes load each bundle format unchanged, and how that was verified (`edgeslm list formats`)."""

from __future__ import annotations

STOCK_RUNTIMES: dict[str, tuple[str, str]] = {
    "onnx": ("onnxruntime; onnxruntime-genai (genai_config.json in the bundle)",
             "onnxruntime: every export's verify and `edgeslm run`; onnxruntime-genai 0.18: same greedy tokens "
             "as `edgeslm run` on every architecture (tests/test_genai_config.py) and on the default model "
             "(tests/test_real_model.py)"),
    "executorch": ("ExecuTorch runtime (Module); ExecuTorch LLM runner (TextLLMRunner)",
                   "pybindings runtime: every export's verify; TextLLMRunner generates from the .pte "
                   "(tests/test_executorch_backend.py)"),
    "coreml": ("Core ML (MLModel + MLState, iOS 18 / macOS 15); ios_demo's EdgeSLMKit; swift-transformers' "
               "LanguageModel (swift-chat)",
               "not run here (needs macOS): host checks at export and `edgeslm verify`; EdgeSLMKit's feature "
               "names and shapes checked against the package spec (tests/test_ios_demo.py); swift-transformers' "
               "stateful I/O names and ranges checked on the package (tests/test_coreml_backend.py) and its way "
               "of driving the model replayed on the converted program's trace (tests/test_kernels_coreml.py)"),
}
