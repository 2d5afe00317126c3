"""The ExecuTorch backend: torch.export with a static KV cache, XNNPACK delegation, torchao quantization."""
