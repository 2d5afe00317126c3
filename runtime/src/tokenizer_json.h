// Shared by the parts of the tokenizer (tokenizer.json's normalizer, pre_tokenizer, model, decoder): how a part's
// JSON is read, and the one error a part the engine does not implement raises.
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace edgeslm {

[[noreturn]] inline void unsupported(const std::string &what) {
  throw std::runtime_error(
      "unsupported tokenizer: " + what +
      " (the native engine implements Hugging Face tokenizers' BPE with the GPT-2 byte-level, Llama 3 / Qwen2 "
      "split-regex and SentencePiece (Metaspace, byte fallback) pipelines)");
}

inline std::string type_of(const nlohmann::json &j) { return j.is_object() ? j.value("type", "") : ""; }

// A part that may be a Sequence of parts (key: "normalizers", "pretokenizers", "decoders"): its steps in order;
// none for null.
inline std::vector<nlohmann::json> steps_of(const nlohmann::json &j, const char *key) {
  if (j.is_null()) return {};
  if (type_of(j) == "Sequence") return std::vector<nlohmann::json>(j.at(key).begin(), j.at(key).end());
  return {j};
}

// A Replace / Split pattern: {"String": "..."} is supported; a {"Regex": ...} only where the caller knows it.
inline bool string_pattern(const nlohmann::json &pattern, std::string &out) {
  if (!pattern.is_object() || !pattern.contains("String")) return false;
  out = pattern["String"].get<std::string>();
  return true;
}
}  // namespace edgeslm
