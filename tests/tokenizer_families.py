"""tokenizer.json files of the pipelines real causal LMs ship, built here (no model hub): a small BPE vocabulary is
trained with Hugging Face `tokenizers` on the given texts, then given each family's normalizer, pre-tokenizer,
decoder, post-processor and added tokens as transformers writes them:

- smollm2-like byte level is the default bundle's own tokenizer (not built here);
- llama2 (legacy conversion, as Llama 2 / Mistral / Meditron / BioMistral / Phi-3 files are): Prepend + Replace
  normalizer, no pre-tokenizer, byte fallback, Strip decoder, `<s>` template, Phi-3-style rstrip chat tokens;
- llama2-metaspace (transformers 5's conversion): Metaspace pre-tokenizer with prepend_scheme "first";
- gemma: Replace normalizer, Split(" ") pre-tokenizer, byte fallback, `<bos>` template;
- llama3: Llama 3's split regex + ByteLevel without regex, ignore_merges, `<|begin_of_text|>` template;
- qwen2: NFC normalizer, Qwen2's split regex (single digits), ByteLevel, ChatML tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")
FAMILIES = ("llama2", "llama2-metaspace", "gemma", "llama3", "qwen2")


def _added(content: str, id_: int, special: bool = True, **flags) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": flags.get("lstrip", False),
            "rstrip": flags.get("rstrip", False), "normalized": flags.get("normalized", not special),
            "special": special}


def _template(token: str, id_: int) -> dict:
    return {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": token, "type_id": 0}},
                                                     {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {token: {"id": token, "ids": [id_], "tokens": [token]}}}


def _train(texts: list[str], byte_level: bool, vocab_size: int) -> dict:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_REGEX), "isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
    else:  # SentencePiece-like: words start with "▁"; rare characters are left to the byte fallback
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return json.loads(tok.to_str())


def build(family: str, texts: list[str], folder: Path, vocab_size: int = 3000) -> Path:
    """Write FOLDER/tokenizer.json of the family, trained on texts; returns its path."""
    from tokenizers import Tokenizer

    byte_level = family in ("llama3", "qwen2")
    data = _train(texts, byte_level, vocab_size)
    vocab = data["model"]["vocab"]
    specials = {"llama2": ["<unk>", "<s>", "</s>"], "llama2-metaspace": ["<unk>", "<s>", "</s>"],
                "gemma": ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
                "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                           "<|eot_id|>"],
                "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]}[family]
    added = []
    for name in specials:
        vocab[name] = len(vocab)
        added.append(_added(name, vocab[name]))
    if not byte_level:
        for b in range(256):
            vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    model = data["model"]
    model.update(byte_fallback=not byte_level, fuse_unk=not byte_level, ignore_merges=family == "llama3",
                 unk_token=None if byte_level else ("<unk>"))
    data["added_tokens"] = added
    meta = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    sp_decoder = [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
                  {"type": "Fuse"}]
    byte_pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    if family == "llama2":
        for name in ("<|user|>", "<|assistant|>", "<|end|>"):  # Phi-3's chat tokens take the whitespace after them
            vocab[name] = len(vocab)
            added.append(_added(name, vocab[name], rstrip=True))
        data.update(normalizer={"type": "Sequence", "normalizers": [
                        {"type": "Prepend", "prepend": "▁"},
                        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                    pre_tokenizer=None, post_processor=_template("<s>", vocab["<s>"]),
                    decoder={"type": "Sequence", "decoders": sp_decoder + [
                        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})
    elif family == "llama2-metaspace":
        data.update(normalizer=None, pre_tokenizer=meta, post_processor=_template("<s>", vocab["<s>"]),
                    decoder=dict(meta))
    elif family == "gemma":
        data.update(normalizer={"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
                    pre_tokenizer={"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                                   "invert": False},
                    post_processor=_template("<bos>", vocab["<bos>"]),
                    decoder={"type": "Sequence", "decoders": sp_decoder})
    elif family == "llama3":
        data.update(normalizer=None, pre_tokenizer={"type": "Sequence", "pretokenizers": [
                        {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
                        byte_pre]},
                    post_processor={"type": "Sequence", "processors": [
                        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                        _template("<|begin_of_text|>", vocab["<|begin_of_text|>"])]},
                    decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    elif family == "qwen2":
        data.update(normalizer={"type": "NFC"}, pre_tokenizer={"type": "Sequence", "pretokenizers": [
                        {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
                        byte_pre]},
                    post_processor={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                                    "use_regex": False},
                    decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                             "use_regex": False})
    else:
        raise ValueError(f"unknown tokenizer family {family!r}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tokenizer.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    Tokenizer.from_file(str(path))  # tokenizers itself must accept it
    return path
