#include "split_patterns.h"

#include "unicode.h"

namespace edgeslm {
namespace {
bool other(uint32_t c) { return !is_whitespace(c) && !is_letter(c) && !is_number(c); }
bool newline(uint32_t c) { return c == '\r' || c == '\n'; }

// (?i:...) folds ASCII case and U+017F LATIN SMALL LETTER LONG S onto 's'.
uint32_t fold(uint32_t c) { return c == 0x17F ? 's' : (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d at i: the end of the match, or i when none.
size_t contraction(const std::vector<uint32_t> &cp, size_t i, bool ignore_case) {
  size_t n = cp.size();
  if (cp[i] != '\'' || i + 1 >= n) return i;
  auto at = [&](size_t k) -> uint32_t { return k < n ? (ignore_case ? fold(cp[k]) : cp[k]) : 0; };
  uint32_t a = at(i + 1), b = at(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return i;
}

// \s+(?!\S) then \s+ at i (cp[i] is whitespace): the end of the match.
size_t trailing_space(const std::vector<uint32_t> &cp, size_t i) {
  size_t n = cp.size(), j = i;
  while (j < n && is_whitespace(cp[j])) ++j;
  if (j == n || j - i == 1) return j;
  return j - 1;  // leave the last space to join the next word
}

size_t run_of(const std::vector<uint32_t> &cp, size_t j, bool (*cls)(uint32_t)) {
  while (j < cp.size() && cls(cp[j])) ++j;
  return j;
}
}  // namespace

void gpt2_spans(const std::vector<uint32_t> &cp, Spans &spans) {
  size_t n = cp.size(), i = 0;
  while (i < n) {
    size_t j = contraction(cp, i, false);
    if (j == i) {
      size_t k = (cp[i] == ' ' && i + 1 < n) ? i + 1 : i;  // the optional leading space
      uint32_t d = cp[k];
      bool (*cls)(uint32_t) = is_letter(d) ? is_letter : is_number(d) ? is_number : other(d) ? other : nullptr;
      if (cls && !(k == i + 1 && d == ' ')) j = run_of(cp, k, cls);
      else j = trailing_space(cp, i);
    }
    spans.emplace_back(i, j);
    i = j;
  }
}

void llama3_spans(const std::vector<uint32_t> &cp, size_t max_digits, Spans &spans) {
  size_t n = cp.size(), i = 0;
  while (i < n) {
    uint32_t c = cp[i];
    size_t j = contraction(cp, i, true);
    if (j != i) {
    } else if (!newline(c) && !is_letter(c) && !is_number(c) && i + 1 < n && is_letter(cp[i + 1])) {
      j = run_of(cp, i + 1, is_letter);  // [^\r\n\p{L}\p{N}]?\p{L}+ with its optional first character
    } else if (is_letter(c)) {
      j = run_of(cp, i, is_letter);
    } else if (is_number(c)) {
      j = i;
      while (j < n && j - i < max_digits && is_number(cp[j])) ++j;
    } else if (other(c) || (c == ' ' && i + 1 < n && other(cp[i + 1]))) {
      j = run_of(cp, other(c) ? i : i + 1, other);  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
      j = run_of(cp, j, newline);
    } else {  // whitespace: \s*[\r\n]+, else \s+(?!\S), else \s+
      size_t end = run_of(cp, i, is_whitespace), last_newline = n;
      for (size_t k = i; k < end; ++k)
        if (newline(cp[k])) last_newline = k;
      j = last_newline != n ? last_newline + 1 : trailing_space(cp, i);
    }
    spans.emplace_back(i, j);
    i = j;
  }
}

void word_spans(const std::vector<uint32_t> &cp, Spans &spans) {
  size_t n = cp.size(), i = 0;
  while (i < n) {
    if (is_whitespace(cp[i])) {
      ++i;
      continue;
    }
    bool word = is_word(cp[i]);
    size_t j = i;
    while (j < n && !is_whitespace(cp[j]) && is_word(cp[j]) == word) ++j;
    spans.emplace_back(i, j);
    i = j;
  }
}

KnownRegex known_regex(const std::string &pattern) {
  const std::string head = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
  const std::string tail = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  if (pattern == head + "\\p{N}{1,3}" + tail) return KnownRegex::Llama3;
  if (pattern == head + "\\p{N}" + tail) return KnownRegex::Qwen2;
  if (pattern == "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+")
    return KnownRegex::Gpt2;
  return KnownRegex::None;
}

void regex_spans(KnownRegex which, const std::vector<uint32_t> &cp, Spans &spans) {
  if (which == KnownRegex::Gpt2) gpt2_spans(cp, spans);
  else llama3_spans(cp, which == KnownRegex::Llama3 ? 3 : 1, spans);
}
}  // namespace edgeslm
