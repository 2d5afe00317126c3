"""One parse of a GGUF file for the whole export, transformers' three reads included, and one tensor-name map.

transformers reads a GGUF source three times while edgeslm loads it: the config (``AutoConfig``), the tokenizer
(``AutoTokenizer``) and the weights (``from_pretrained``) each call ``load_gguf_checkpoint``, which builds a new
``gguf.GGUFReader``; gguf-py parses a tokenizer's metadata string by string, ~5 s per parse for the default model's
49k-entry vocabulary on the 2-core VM (issue #15's profile: four parses, 20 s of a 82 s export). transformers takes
no reader as an argument, so while edgeslm calls it, ``gguf.GGUFReader`` answers a read of *this* file (same
resolved path, size and mtime) with edgeslm's own cached reader (``shared_gguf_reader``); any other path, and every
call outside the block, gets a fresh reader as before. The reader is a read-only memory map: sharing it changes
no result (the bundle of the default model holds the same weights and nodes with and without).

The same block answers ``gguf.get_tensor_name_map(arch, n_blocks)`` from a cache: transformers' GGUF weight
loader rebuilds that map (every tensor-name pattern of the architecture expanded for every block) once per
submodule of the model as it recurses, ~9 s of the default model's load; the map is a pure function of its
two arguments and is only read.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

from edgeslm.sources.resolve import shared_gguf_reader

_LOCK = threading.RLock()


@contextlib.contextmanager
def transformers_share_reader(gguf_path: Path | None):
    """Within the block, ``gguf.GGUFReader(gguf_path)`` returns the shared reader of ``gguf_path`` and
    ``gguf.get_tensor_name_map`` is memoized."""
    if gguf_path is None:
        yield
        return
    import gguf

    target = Path(gguf_path).resolve()
    with _LOCK:  # one patch at a time: concurrent exports would otherwise restore the wrong functions
        original, name_map = gguf.GGUFReader, gguf.get_tensor_name_map

        def reader(path, mode="r"):
            if mode == "r" and Path(path).resolve() == target:
                return shared_gguf_reader(target)
            return original(path, mode)

        gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=8)(name_map)
        try:
            yield
        finally:
            gguf.GGUFReader, gguf.get_tensor_name_map = original, name_map
