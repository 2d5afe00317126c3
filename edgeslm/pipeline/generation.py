"""Generation settings an app needs beside the model: eos ids, chat template, limits."""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.bundle.chat_turn import chat_turn
from edgeslm.sampling import source_sampling

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
        # one user turn as text around the message, for runtimes without Jinja (None: pass prompts raw there)
        "chat_turn": chat_turn(tokenizer),
        "max_positions": max_positions,
        "decoding": "greedy",
        # the source's own generation_config.json defaults; `edgeslm run` applies them (--greedy, flags override)
        "sampling": source_sampling(generation_config).to_dict(),
    }
    (folder / GENERATION_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return settings


def bundle_sampling(generation: dict):
    """The bundle's recorded defaults (older bundles without them: greedy)."""
    from edgeslm.sampling import Sampling

    return Sampling(**{k: v for k, v in generation.get("sampling", {}).items() if k != "seed"})


def read_generation(folder: Path) -> dict:
    return json.loads((Path(folder) / GENERATION_FILE).read_text())
