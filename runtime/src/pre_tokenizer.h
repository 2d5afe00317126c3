// tokenizer.json's "pre_tokenizer": how normalized text is cut into the words BPE runs on. Steps, each applied to
// every piece the previous ones made, as Hugging Face tokenizers does: ByteLevel (GPT-2 regex and/or the byte ->
// printable-character map), Whitespace, Digits, Split (a string, or the GPT-2 / Llama 3 / Qwen2 regex) and
// Metaspace (SentencePiece's "▁").
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "split_patterns.h"

namespace edgeslm {

class PreTokenizer {
 public:
  explicit PreTokenizer(const nlohmann::json &spec);  // null: the whole text is one word
  // `at_start`: the text begins the input (no added token before it), which Metaspace's prepend_scheme "first" reads.
  void split(const std::string &text, bool at_start, std::vector<std::string> &words) const;
  bool byte_level() const { return byte_level_; }

 private:
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  enum class Kind { ByteLevel, Whitespace, Digits, SplitString, SplitRegex, Metaspace };
  struct Step {
    Kind kind;
    bool flag = false;  // ByteLevel: add_prefix_space; Digits: individual_digits; Metaspace: split
    bool use_regex = true;          // ByteLevel
    int prepend = 0;                // Metaspace: 0 never, 1 first, 2 always
    std::vector<uint32_t> pattern;  // SplitString: the string; Metaspace: the replacement
    KnownRegex regex = KnownRegex::None;
    Behavior behavior = Behavior::Isolated;
  };
  struct Piece {
    std::vector<uint32_t> cp;
    bool first;  // starts at offset 0 of the input
  };
  static Behavior behavior_of(const std::string &name);
  static void apply_behavior(const Piece &p, const Spans &matches, Behavior b, std::vector<Piece> &out);
  void run(const Step &s, const Piece &p, std::vector<Piece> &out) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// GPT-2's bytes_to_unicode: each byte as the printable character that byte-level vocabularies spell it with.
const std::vector<uint32_t> &byte_chars();
}  // namespace edgeslm
