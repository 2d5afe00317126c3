"""--adapter: a PEFT LoRA adapter is merged into the base before export, and the bundle is the merged model."""

import json

import torch
from transformers import AutoModelForCausalLM

from test_cli_bad_input import USER, assert_error, edgeslm


def make_adapter(base_dir, out_dir):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(7)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:  # B starts at zero (a no-op adapter); give it weight so merging matters
                p.normal_(0, 0.2)
    peft_model.save_pretrained(out_dir)
    return out_dir


def test_lora_adapter_is_merged(tiny_model_dir, tmp_path):
    base = tiny_model_dir("llama")
    adapter = make_adapter(base, tmp_path / "lora")
    out = tmp_path / "b"
    result = edgeslm("export", "--model", str(base), "--adapter", str(adapter), "--target", "linux",
                     "--quant", "fp32", "--max-seq-len", "64", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verified"] and manifest["source"]["adapter"]["path"] == str(adapter)
    assert any(f["name"] == "adapter_model.safetensors" for f in manifest["source"]["adapter"]["files"])

    # The bundle is the merged model, not the base: its logits differ from the base's on the same prompt.
    import numpy as np

    from edgeslm.bundle.reader import open_bundle

    opened = open_bundle(out)
    ids = opened.tokenizer("what are the common symptoms", return_tensors="np").input_ids
    merged = opened.runner.prefill(ids)
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(base)(torch.from_numpy(ids)).logits[0].numpy()
    assert np.abs(merged - plain).max() > 1e-2


def test_adapter_folder_must_be_peft(tiny_model_dir, tmp_path):
    (tmp_path / "lora").mkdir()
    assert_error(edgeslm("export", "--model", str(tiny_model_dir("llama")), "--adapter", str(tmp_path / "lora"),
                         "--target", "linux", "-o", str(tmp_path / "b")), USER, "not a PEFT adapter folder")
