// The pre-tokenizer regexes of the tokenizers the engine supports, written as scanners (Oniguruma's semantics:
// at each position the first alternative that matches, greedy, with backtracking), since C++'s <regex> has no
// \p{L}. Each returns the [begin, end) spans of consecutive matches; together they cover the text.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace edgeslm {

using Spans = std::vector<std::pair<size_t, size_t>>;

// GPT-2's ByteLevel regex: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void gpt2_spans(const std::vector<uint32_t> &cp, Spans &spans);

// Llama 3's Split regex (max_digits 3) and Qwen2's (max_digits 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void llama3_spans(const std::vector<uint32_t> &cp, size_t max_digits, Spans &spans);

// tokenizers' Whitespace pre-tokenizer: \w+|[^\w\s]+ (whitespace dropped).
void word_spans(const std::vector<uint32_t> &cp, Spans &spans);

// A Split pre-tokenizer's Regex pattern, when it is one of the above: which scanner runs it.
enum class KnownRegex { None, Gpt2, Llama3, Qwen2 };
KnownRegex known_regex(const std::string &pattern);
void regex_spans(KnownRegex which, const std::vector<uint32_t> &cp, Spans &spans);
}  // namespace edgeslm
