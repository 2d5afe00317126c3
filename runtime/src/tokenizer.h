// A Hugging Face `tokenizers` BPE tokenizer read from the bundle's tokenizer.json, matching the Rust library's
// encode/decode exactly for the supported pipeline:
//   added tokens split first (longest match) -> pre-tokenizer: ByteLevel (GPT-2 regex), Whitespace, or a Sequence
//   of Digits + ByteLevel -> BPE merges by rank -> post-processor TemplateProcessing (single) or none;
//   decoders ByteLevel or BPEDecoder.
// Anything else (a normalizer, Metaspace/SentencePiece, a Split regex, byte_fallback, dropout) is refused at load
// with a message naming it, rather than tokenized differently.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace edgeslm {

class Tokenizer {
 public:
  explicit Tokenizer(const std::string &tokenizer_json_path);
  std::vector<int32_t> encode(const std::string &text, bool add_special_tokens) const;
  // Raw bytes of the tokens (UTF-8 once complete); special added tokens skipped when skip_special.
  std::string decode(const std::vector<int32_t> &ids, bool skip_special) const;
  int32_t token_id(const std::string &token) const;  // -1 when absent
  bool is_special(int32_t id) const;

 private:
  struct Added {
    std::string content;
    int32_t id;
    bool special;
  };
  enum class Pre { ByteLevel, Whitespace };
  void pre_tokenize(const std::string &text, std::vector<std::string> &words) const;
  void bpe(const std::string &word, std::vector<int32_t> &out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int> merge_rank_;  // "left\x01right" -> rank
  std::vector<Added> added_;
  std::vector<bool> special_;
  Pre pre_ = Pre::ByteLevel;
  bool split_digits_ = false, individual_digits_ = false, add_prefix_space_ = false;
  bool byte_level_decoder_ = true;
  std::string bpe_suffix_ = "</w>";  // BPEDecoder's suffix
  int32_t unk_id_ = -1;
  std::vector<int32_t> prefix_ids_, suffix_ids_;  // TemplateProcessing single: special tokens around A
  std::string byte_to_char_[256];
  std::unordered_map<uint32_t, unsigned char> char_to_byte_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};
}  // namespace edgeslm
