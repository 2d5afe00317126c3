"""Issue 16, item 3: every parameter the architecture needs comes from the checkpoint. A missing, unexpected or
mis-shaped tensor is an error naming it (exit 2), for safetensors, GGUF and LoRA adapters; before, transformers
filled a missing tensor with random values in both the reference and the export, and the bundle 'verified'."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from test_adapter import make_adapter
from trust_helpers import USER, assert_error, edgeslm

DROPPED = "model.layers.0.mlp.down_proj.weight"


def _export(model, out, *extra):
    return edgeslm("export", "--model", model, "--target", "linux", "--quant", "fp32", "--max-seq-len", "32",
                   "-o", out, *extra)


def _edited_copy(tiny_model_dir, tmp_path, edit):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir("llama"), folder)
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def test_missing_tensor_is_an_error_that_names_it(tiny_model_dir, tmp_path):
    model = _edited_copy(tiny_model_dir, tmp_path, lambda w: w.pop(DROPPED))
    assert_error(_export(model, tmp_path / "out"), USER, "missing from the checkpoint", DROPPED)
    assert not (tmp_path / "out").exists()


def test_unexpected_and_misshaped_tensors_are_errors(tiny_model_dir, tmp_path):
    def edit(w):
        w["model.layers.0.extra.weight"] = torch.zeros(3)
    assert_error(_export(_edited_copy(tiny_model_dir, tmp_path, edit), tmp_path / "out"), USER,
                 "model.layers.0.extra.weight")

    def reshape(w):
        w[DROPPED] = torch.zeros(3, 3)
    shutil.rmtree(tmp_path / "model")
    assert_error(_export(_edited_copy(tiny_model_dir, tmp_path, reshape), tmp_path / "out"), USER, "down_proj")


def tiny_gguf(path, drop=(), scores=True):
    """A complete tiny llama GGUF (float tensors, a gpt2-style vocabulary) unless told to leave something out."""
    import gguf

    hid, heads, kv, ffn, vocab = 64, 4, 2, 96, 80
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(hid)
    w.add_feed_forward_length(ffn)
    w.add_block_count(1)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"t{i}" for i in range(vocab)])
    w.add_token_types([1] * vocab)
    if scores:
        w.add_token_scores([0.0] * vocab)
    shapes = {"token_embd.weight": (vocab, hid), "output_norm.weight": (hid,), "output.weight": (vocab, hid),
              "blk.0.attn_norm.weight": (hid,), "blk.0.ffn_norm.weight": (hid,), "blk.0.attn_q.weight": (hid, hid),
              "blk.0.attn_k.weight": (kv * hid // heads, hid), "blk.0.attn_v.weight": (kv * hid // heads, hid),
              "blk.0.attn_output.weight": (hid, hid), "blk.0.ffn_gate.weight": (ffn, hid),
              "blk.0.ffn_up.weight": (ffn, hid), "blk.0.ffn_down.weight": (hid, ffn)}
    rng = np.random.default_rng(0)
    for name, shape in shapes.items():
        if name not in drop:
            w.add_tensor(name, rng.standard_normal(shape).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_gguf_missing_tensor_is_an_error_that_names_it(tmp_path):
    model = tiny_gguf(tmp_path / "damaged.gguf", drop=("blk.0.ffn_down.weight",))
    assert_error(_export(model, tmp_path / "out"), USER, "missing from the checkpoint", DROPPED)


def test_gguf_without_token_scores_is_bad_input(tmp_path):
    """Issue 16 item 7: a GGUF whose sentencepiece vocabulary lacks tokenizer.ggml.scores crashed (exit 70)."""
    model = tiny_gguf(tmp_path / "noscores.gguf", scores=False)
    assert_error(_export(model, tmp_path / "out"), USER, "could not load", "scores")


@pytest.fixture
def adapter(tiny_model_dir, tmp_path):
    return make_adapter(tiny_model_dir("llama"), tmp_path / "lora")


def test_adapter_missing_tensor_is_an_error_that_names_it(tiny_model_dir, adapter, tmp_path):
    weights = load_file(adapter / "adapter_model.safetensors")
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, adapter / "adapter_model.safetensors")
    assert_error(_export(tiny_model_dir("llama"), tmp_path / "out", "--adapter", adapter), USER, dropped)


def test_mismatched_adapter_is_bad_input(tiny_model_dir, adapter, tmp_path):
    """Issue 16 item 7: a LoRA adapter whose tensors do not fit the base (made for another model) crashed (exit 70)."""
    weights = load_file(adapter / "adapter_model.safetensors")
    name = next(k for k in sorted(weights) if "lora_A" in k)
    weights[name] = torch.zeros(weights[name].shape[0], weights[name].shape[1] + 8)
    save_file(weights, adapter / "adapter_model.safetensors")
    assert_error(_export(tiny_model_dir("llama"), tmp_path / "out", "--adapter", adapter), USER, "adapter")


def test_bad_adapter_config_is_bad_input(tiny_model_dir, adapter, tmp_path):
    (adapter / "adapter_config.json").write_text("{not json")
    assert_error(_export(tiny_model_dir("llama"), tmp_path / "out", "--adapter", adapter), USER, "adapter")
