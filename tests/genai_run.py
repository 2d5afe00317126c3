"""Greedy generation through onnxruntime-genai (the stock runtime) and through edgeslm's own runner, for parity
tests of the genai_config.json an ONNX bundle carries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edgeslm.backends.onnx.genai_config import GENAI_CONFIG
from edgeslm.bundle.reader import open_bundle
from edgeslm.generate import greedy_tokens, prompt_ids


def genai_greedy(folder: Path, ids: np.ndarray, max_new_tokens: int) -> list[int]:
    import onnxruntime_genai as og

    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + max_new_tokens)
    generator = og.Generator(model, params)
    generator.append_tokens(ids.tolist())
    while not generator.is_done():
        generator.generate_next_token()
    return [int(t) for t in generator.get_sequence(0)[len(ids):]]


def edgeslm_greedy(folder: Path, prompt: str, max_new_tokens: int, chat: bool = False) -> tuple[np.ndarray, list[int]]:
    """The prompt ids and the tokens `edgeslm run` picks (the EOS included when it stops there, as GenAI does)."""
    bundle = open_bundle(folder)
    ids = prompt_ids(bundle.tokenizer, prompt, chat)
    eos = set(bundle.generation["eos_token_ids"])
    return ids, list(greedy_tokens(bundle.runner, ids, max_new_tokens, eos, bundle.generation["max_positions"]))


def with_share_buffer(folder: Path, dest: Path, share: bool) -> Path:
    """A copy of the bundle whose genai_config.json asks for the other KV-buffer mode."""
    shutil.copytree(folder, dest)
    config = json.loads((dest / GENAI_CONFIG).read_text())
    config["search"]["past_present_share_buffer"] = share
    (dest / GENAI_CONFIG).write_text(json.dumps(config))
    return dest
