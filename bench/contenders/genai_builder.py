"""Baseline: the ONNX Runtime GenAI model builder's int4 CPU model, run by its own generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime_genai as og


class GenaiRunner:
    def __init__(self, folder: Path, threads: int, ctx: int, search: dict | None = None):
        config = og.Config(str(folder))
        # Thread count (and any search option) goes through the config overlay so the folder stays untouched.
        options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}, **({"search": search} if search else {})}))
        self.model = og.Model(config)
        self.params = og.GeneratorParams(self.model)
        # max_length sizes the shared KV buffer; greedy so its own loop would match ours.
        self.params.set_search_options(max_length=ctx, do_sample=False)
        self.reset()

    def reset(self) -> None:
        self.generator = og.Generator(self.model, self.params)

    def prefill(self, ids: np.ndarray) -> np.ndarray:
        self.generator.append_tokens(ids.astype(np.int32))
        return self.generator.get_output("logits")[0]  # (S, vocab)

    def decode(self, token_id: int) -> np.ndarray:
        self.generator.append_tokens(np.array([[token_id]], dtype=np.int32))
        return self.generator.get_output("logits")[0, -1]


def load(artifact: Path, threads: int, ctx: int) -> GenaiRunner:
    return GenaiRunner(artifact, threads, ctx)


def model_files(artifact: Path) -> list[Path]:
    return [artifact / "model.onnx", artifact / "model.onnx.data"]
