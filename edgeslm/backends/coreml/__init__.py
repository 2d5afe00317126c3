"""The Core ML backend: coremltools conversion with the KV cache as model state, iOS 18 fused attention."""
