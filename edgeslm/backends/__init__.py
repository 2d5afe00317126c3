"""Backend registry: `onnx` (ExecuTorch and Core ML plug in here the same way)."""

from edgeslm.backends.base import Backend
from edgeslm.backends.onnx.backend import OnnxBackend
from edgeslm.registry import Registry

BACKENDS: Registry[Backend] = Registry("format", "edgeslm list formats")
BACKENDS.add("onnx", OnnxBackend())
