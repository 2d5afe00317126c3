"""Backend registry: `onnx` (ExecuTorch and Core ML plug in here the same way)."""

from edgeslm.backends.base import Backend
from edgeslm.backends.coreml.backend import CoreMLBackend
from edgeslm.backends.executorch.backend import ExecuTorchBackend
from edgeslm.backends.onnx.backend import OnnxBackend
from edgeslm.registry import Registry

BACKENDS: Registry[Backend] = Registry("format", "edgeslm list formats")
BACKENDS.add("onnx", OnnxBackend())
BACKENDS.add("coreml", CoreMLBackend())
BACKENDS.add("executorch", ExecuTorchBackend())
