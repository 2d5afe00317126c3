"""A PyTorch reference run one decoder layer at a time, for models too big to hold whole.

Every sequence goes through layer 0, then every sequence through layer 1, and so on: only one layer's
weights (plus the embedding and head) are ever in memory, whatever the model's depth. The layers are the
EdgeDecoder's own modules (the skeleton's, filled with real tensors by `fetch`), run with the eager reference
attention over each whole sequence (causal, no cache), so a sequence's logits at every position equal a
prefill of its prefix: the prompt positions and a teacher-forced decode of the rest.

`fetch(name)` returns the float32 value of a decoder tensor (state_dict name): the source checkpoint's
(quantization drift) or the bundle's stored weights dequantized (lowering exactness).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from edgeslm.model.decoder import EdgeDecoder, ReferenceKernel
from edgeslm.model.skeleton import filled, filled_shell


def layerwise_logits(skeleton: EdgeDecoder, fetch: Callable[[str], torch.Tensor],
                     sequences: list[np.ndarray], progress: Callable[[int, int], None] | None = None
                     ) -> list[np.ndarray]:
    """Logits (S, V) at every position of each token sequence, holding one layer at a time."""
    shell = filled_shell(skeleton, fetch)
    layers = (filled(meta_layer, f"layers.{i}.", fetch) for i, meta_layer in enumerate(skeleton.layers))
    return sequence_logits(shell, layers, len(skeleton.layers), sequences, progress)


def sequence_logits(shell: EdgeDecoder, layers: Iterable[torch.nn.Module], depth: int, sequences: list[np.ndarray],
                    progress: Callable[[int, int], None] | None = None) -> list[np.ndarray]:
    """Every sequence through each layer in turn (reference attention, no cache), then the shell's head.

    `shell` gives the embedding, rotary tables and head; `layers` may be built one at a time (a generator that
    loads each from disk) or be a model's own, already in memory (a quantized model's layers)."""
    kernel = ReferenceKernel()
    spec = shell.spec
    with torch.no_grad():
        states = [shell.embed_inputs(torch.as_tensor(seq, dtype=torch.long)[None], 0) for seq in sequences]
        for i, layer in enumerate(layers):
            cos, sin = shell.layer_tables(layer)
            empty = torch.zeros(1, spec.kv_heads, 0, spec.head_dim)
            states = [layer(x, empty, empty, None, cos, sin, kernel)[0] for x in states]
            del layer
            if progress:
                progress(i + 1, depth)
        return [shell.head(x)[0].float().numpy() for x in states]
