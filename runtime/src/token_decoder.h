// tokenizer.json's "decoder": tokens back to text, step by step as Hugging Face tokenizers' decode_chain does
// (ByteLevel, BPEDecoder, Replace, ByteFallback, Fuse, Strip, Metaspace, or a Sequence of them), invalid UTF-8
// replaced by U+FFFD as tokenizers does. One deliberate difference: when the tokens end inside a character (its
// first bytes decoded, the rest not generated yet), those bytes stay raw, so that a stream can hold them back
// until the character is complete; utf8_incomplete_tail finds them.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgeslm {

class TokenDecoder {
 public:
  explicit TokenDecoder(const nlohmann::json &spec);  // null: the tokens concatenated
  std::string decode(std::vector<std::string> tokens) const;

 private:
  enum class Kind { ByteLevel, BPEDecoder, Replace, ByteFallback, Fuse, Strip, Metaspace };
  struct Step {
    Kind kind;
    std::string a, b;        // BPEDecoder: suffix; Replace: pattern, content; Strip: content; Metaspace: replacement
    size_t start = 0, stop = 0;  // Strip
    bool prepend = true;         // Metaspace: prepend_scheme is not "never"
  };
  std::vector<Step> steps_;
};
}  // namespace edgeslm
