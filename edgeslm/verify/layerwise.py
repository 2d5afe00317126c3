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

import copy
from typing import Callable

import numpy as np
import torch

from edgeslm.model.decoder import EdgeDecoder, ReferenceKernel


def _filled(module: torch.nn.Module, prefix: str, fetch: Callable[[str], torch.Tensor]) -> torch.nn.Module:
    """A copy of a meta-device module with its tensors (named `prefix` + state_dict name) loaded."""
    filled = copy.deepcopy(module)
    own = {name: fetch(prefix + name) for name in filled.state_dict()}
    filled.load_state_dict(own, assign=True)
    return filled


def layerwise_logits(skeleton: EdgeDecoder, fetch: Callable[[str], torch.Tensor],
                     sequences: list[np.ndarray], progress: Callable[[int, int], None] | None = None
                     ) -> list[np.ndarray]:
    """Logits (S, V) at every position of each token sequence, holding one layer at a time."""
    shell = copy.deepcopy(skeleton)  # meta tensors: no memory
    shell.layers = torch.nn.ModuleList()
    shell = _filled(shell, "", fetch)  # embedding, positions, final norm, head, rotary tables
    kernel = ReferenceKernel()
    with torch.no_grad():
        states = [shell.embed_inputs(torch.as_tensor(seq, dtype=torch.long)[None], 0) for seq in sequences]
        for i, meta_layer in enumerate(skeleton.layers):
            layer = _filled(meta_layer, f"layers.{i}.", fetch)
            cos, sin = shell.layer_tables(layer)
            empty = torch.zeros(1, skeleton.spec.kv_heads, 0, skeleton.spec.head_dim)
            states = [layer(x, empty, empty, None, cos, sin, kernel)[0] for x in states]
            del layer
            if progress:
                progress(i + 1, len(skeleton.layers))
        return [shell.head(x)[0].float().numpy() for x in states]
