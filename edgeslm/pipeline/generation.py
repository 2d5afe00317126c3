"""Generation settings an app needs beside the model: eos ids, chat template, limits."""

from __future__ import annotations

import json
from pathlib import Path

GENERATION_FILE = "generation.json"


def eos_ids(generation_config, tokenizer) -> list[int]:
    ids = generation_config.eos_token_id if generation_config is not None else None
    if ids is None:
        ids = tokenizer.eos_token_id
    ids = ids if isinstance(ids, list) else [ids]
    return [int(i) for i in ids if i is not None]


def write_generation(folder: Path, generation_config, tokenizer, max_positions: int) -> dict:
    """`generation_config`: the model's transformers GenerationConfig (None when it has none)."""
    settings = {
        "eos_token_ids": eos_ids(generation_config, tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "has_chat_template": bool(getattr(tokenizer, "chat_template", None)),
        "max_positions": max_positions,
        "decoding": "greedy",
    }
    (folder / GENERATION_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return settings


def read_generation(folder: Path) -> dict:
    return json.loads((Path(folder) / GENERATION_FILE).read_text())
