"""Tiny random models saved as real Hugging Face folders (config + safetensors + tokenizer), built offline."""

from __future__ import annotations

import string
from pathlib import Path

import torch

ALPHABET = string.ascii_lowercase + string.digits + " .,?-'"
CORPUS = [
    "what are the common symptoms of type 2 diabetes?",
    "a 45-year-old man presents with crushing chest pain radiating to the left arm.",
    "metformin is contraindicated in patients with severe renal impairment.",
    "explain in simple words what high blood pressure means for a patient.",
    "the first-line treatment for uncomplicated urinary tract infection in women is nitrofurantoin.",
    "the capital of france is paris.",
]


def tiny_tokenizer(vocab_size: int):
    """A character-level BPE trained on a few sentences: fits any tiny vocab, needs no download."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=list(ALPHABET), show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer)
    from tokenizers import decoders
    tok.decoder = decoders.BPEDecoder()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def fit_briefly(model, tokenizer, steps: int) -> None:
    """A few Adam steps on the corpus: random weights give near-uniform logits, where argmax agreement is
    a coin toss; a briefly trained model has the peaked next-token distributions real models have."""
    ids = [torch.tensor([tokenizer(t).input_ids]) for t in CORPUS]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = ids[step % len(ids)]
        loss = model(batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def save_tiny_model(config, folder: Path, seed: int = 0, train_steps: int = 0) -> Path:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config.bos_token_id, config.eos_token_id, config.pad_token_id = 1, 2, None
    model = AutoModelForCausalLM.from_config(config).eval()
    tokenizer = tiny_tokenizer(config.get_text_config().vocab_size)
    if train_steps:
        fit_briefly(model, tokenizer, train_steps)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
