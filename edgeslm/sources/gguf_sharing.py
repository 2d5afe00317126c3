"""One parse of a GGUF file for the whole export, transformers' three reads included.

transformers reads a GGUF source three times while edgeslm loads it: the config (``AutoConfig``), the tokenizer
(``AutoTokenizer``) and the weights (``from_pretrained``) each call ``load_gguf_checkpoint``, which builds a new
``gguf.GGUFReader``; gguf-py parses a tokenizer's metadata string by string, ~5 s per parse for the default model's
49k-entry vocabulary on the 2-core VM (issue #15's profile: four parses, 20 s of a 82 s export). transformers takes
no reader as an argument, so while edgeslm calls it, ``gguf.GGUFReader`` answers a read of *this* file (same
resolved path, size and mtime) with edgeslm's own cached reader (``shared_gguf_reader``); any other path, and every
call outside the block, gets a fresh reader as before. The reader is a read-only memory map: sharing it changes
no result (the bundle of the default model is byte-identical with and without, tests/test_gguf_sharing.py).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from edgeslm.sources.resolve import shared_gguf_reader

_LOCK = threading.RLock()


@contextlib.contextmanager
def transformers_share_reader(gguf_path: Path | None):
    """Within the block, ``gguf.GGUFReader(gguf_path)`` returns the shared reader of ``gguf_path``."""
    if gguf_path is None:
        yield
        return
    import gguf

    target = Path(gguf_path).resolve()
    original = gguf.GGUFReader

    def reader(path, mode="r"):
        if mode == "r" and Path(path).resolve() == target:
            return shared_gguf_reader(target)
        return original(path, mode)

    with _LOCK:  # one patch at a time: concurrent exports would otherwise restore the wrong class
        gguf.GGUFReader = reader
        try:
            yield
        finally:
            gguf.GGUFReader = original
