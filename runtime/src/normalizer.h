// tokenizer.json's "normalizer": Prepend, Replace (a string pattern), NFC, or a Sequence of them, applied to each
// piece of text between added tokens, as Hugging Face tokenizers does (Llama 2 / Mistral / Phi-3: Prepend "▁" then
// Replace " " -> "▁"; Gemma: Replace; Qwen2: NFC).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgeslm {

class Normalizer {
 public:
  explicit Normalizer(const nlohmann::json &spec);  // null: the identity
  std::string apply(const std::string &text) const;
  bool identity() const { return steps_.empty(); }

 private:
  enum class Kind { Prepend, Replace, NFC };
  struct Step {
    Kind kind;
    std::string pattern, content;
  };
  std::vector<Step> steps_;
};
}  // namespace edgeslm
