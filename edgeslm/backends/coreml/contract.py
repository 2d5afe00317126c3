"""The I/O of an edgeslm Core ML package: the stateful convention of Hugging Face swift-transformers'
`LanguageModelWithStatefulKVCache` (Sources/Models/LanguageModel.swift), so that apps built on it (swift-chat)
load the package unchanged. Torch-free: the macOS runner reads it too. ios_demo's ModelContract.swift mirrors it,
and tests/test_ios_demo.py checks both against a real exported package."""

from __future__ import annotations

MODEL_DIR = "model.mlpackage"
INPUTS = ("inputIds", "causalMask")
OUTPUT = "logits"
STATES = ("keyCache", "valueCache")
# Package metadata swift-transformers' LanguageModel reads as the model's Hub id (its tokenizer and config source).
HUB_NAME_KEY = "co.huggingface.exporters.name"


def position_mask_shape(past: int, new: int) -> tuple[int, int, int, int]:
    """The `causalMask` an app passes with S new tokens after P cached ones: zeros of this shape. Only its width,
    P + S + 1, is read (swift-transformers passes [1, 1, 1, tokens so far + 1]); causality is in the graph."""
    return (1, 1, 1, past + new + 1)
