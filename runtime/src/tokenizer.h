// A Hugging Face `tokenizers` tokenizer read from the bundle's tokenizer.json, matching the Rust library's encode
// and decode for the pipelines that causal LMs ship:
//   added tokens split first (leftmost-longest, lstrip/rstrip; `normalized` ones matched after normalization)
//   -> normalizer (normalizer.h) -> pre-tokenizer (pre_tokenizer.h) -> BPE (bpe.h)
//   -> post-processor TemplateProcessing (single) or ByteLevel;  decoder: token_decoder.h.
// That covers GPT-2 / SmolLM2 byte-level BPE, Llama 3 and Qwen2 (split regex + byte level, NFC), and SentencePiece
// BPE as converted by transformers (Llama 2, Mistral, Phi-3, Gemma: Metaspace or Prepend/Replace, byte fallback).
// Anything else (WordPiece, Unigram, another regex, BERT processors) is refused at load with a message naming it,
// rather than tokenized differently.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bpe.h"
#include "normalizer.h"
#include "pre_tokenizer.h"
#include "token_decoder.h"

namespace edgeslm {

class Tokenizer {
 public:
  explicit Tokenizer(const std::string &tokenizer_json_path);
  std::vector<int32_t> encode(const std::string &text, bool add_special_tokens) const;
  // Raw bytes of the tokens (UTF-8 once complete); special added tokens skipped when skip_special.
  std::string decode(const std::vector<int32_t> &ids, bool skip_special) const;
  int32_t token_id(const std::string &token) const;  // an added token or the model's; -1 when absent
  bool is_special(int32_t id) const { return special_.count(id) != 0; }

 private:
  struct Added {
    std::string content;  // as matched: a `normalized` token's content normalized
    int32_t id;
    bool special, lstrip, rstrip;
  };
  struct AddedSet {  // added tokens matched on the same text, indexed by their first byte
    std::vector<Added> tokens;
    std::array<std::vector<size_t>, 256> by_first;
    void add(const Added &a);
  };
  struct Segment {
    size_t begin, end;
    int32_t id;  // the added token, or -1 for text
  };
  std::vector<Segment> split_added(const std::string &text, const AddedSet &set) const;
  void encode_text(const std::string &text, bool at_start, std::vector<int32_t> &ids) const;

  std::unique_ptr<Bpe> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<TokenDecoder> decoder_;
  bool has_decoder_ = true;
  AddedSet raw_added_, normalized_added_;
  std::unordered_map<std::string, int32_t> added_ids_;  // content as written -> id
  std::unordered_map<int32_t, std::string> added_text_;  // id -> what decode shows (normalized content if normalized)
  std::unordered_set<int32_t> special_;
  std::vector<int32_t> prefix_ids_, suffix_ids_;  // TemplateProcessing single: special tokens around A
};
}  // namespace edgeslm
