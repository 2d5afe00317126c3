"""A bundle's tokenizer, loaded as data: tokenizer.json through the `tokenizers` library, the special tokens and
the chat template read from tokenizer_config.json / chat_template.jinja as plain values.

Never AutoTokenizer: it follows `auto_map` in tokenizer_config.json to Python shipped with the files (a bundle
is data). The chat template is rendered by transformers' sandboxed Jinja environment.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.bundle.layout import confined
from edgeslm.errors import UserError

SPECIAL = ("bos_token", "eos_token", "unk_token", "pad_token")


def _token(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _config(folder: Path) -> dict:
    path = confined(folder, "tokenizer_config.json")
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({str(exc)[:120]})", hint="Re-export the bundle.") from None
    return config if isinstance(config, dict) else {}


def chat_template(folder: Path, config: dict) -> str | None:
    path = confined(folder, "chat_template.jinja")
    if path.is_file():
        return path.read_text(encoding="utf-8", errors="replace")
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one
        template = next((t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"),
                        None)
    return template if isinstance(template, str) else None


def load_tokenizer(folder: Path):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    path = confined(folder, "tokenizer.json")
    if not path.is_file():
        raise UserError(f"bundle {folder} has no tokenizer.json",
                        hint="Re-export the bundle with this edgeslm version (it writes tokenizer.json).")
    try:
        backend = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust parser raises its own Exception type on a bad file
        raise UserError(f"{path} is not a valid tokenizer file ({str(exc)[:200]})", hint="Re-export the bundle.") \
            from None
    config = _config(folder)
    specials = {name: token for name in SPECIAL if (token := _token(config.get(name))) is not None}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    tokenizer.chat_template = chat_template(folder, config)
    return tokenizer
