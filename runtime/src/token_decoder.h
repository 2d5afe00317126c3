// tokenizer.json's "decoder": tokens back to text, step by step as Hugging Face tokenizers' decode_chain does
// (ByteLevel, BPEDecoder, Replace, ByteFallback, Fuse, Strip, Metaspace, or a Sequence of them). One deliberate
// difference: byte sequences that are not (yet) valid UTF-8 come back as their bytes, not as U+FFFD, so that a
// stream can hold back a character whose bytes are still arriving; a complete answer decodes the same.
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
