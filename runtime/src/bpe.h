// tokenizer.json's "model" of type BPE: the vocabulary, merges applied by rank (lowest first, leftmost among equals,
// as Hugging Face tokenizers' Word::merge_all does), byte_fallback (<0xXX> tokens for characters outside the
// vocabulary, SentencePiece-style), fuse_unk, ignore_merges (Llama 3: a word in the vocabulary is one token) and
// end_of_word_suffix.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace edgeslm {

class Bpe {
 public:
  explicit Bpe(const nlohmann::json &model);
  void encode_word(const std::string &word, std::vector<int32_t> &out) const;
  int32_t id_of(const std::string &token) const;  // in the model's vocabulary; -1 when absent
  // The model's token for an id; nullptr for an id outside its vocabulary (added tokens live in Tokenizer).
  const std::string *token_of(int32_t id) const {
    return id >= 0 && id < (int32_t)id_to_token_.size() && has_id_[id] ? &id_to_token_[id] : nullptr;
  }
  size_t size() const { return id_to_token_.size(); }

 private:
  struct Merge {
    int rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  void merge_all(std::vector<int32_t> &ids, std::vector<size_t> &lens) const;
  void add_vocab(const std::string &content, int32_t id);

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::string end_of_word_suffix_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};
}  // namespace edgeslm
