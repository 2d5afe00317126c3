"""The native engine (runtime/) from Python: fetch ONNX Runtime's C library and headers from the package
registries, build edgeslm-runner with CMake (host, linux-arm64 cross, Android NDK), and run it."""
