// UTF-8 <-> code points and the Unicode classes the tokenizers' pre-tokenizer regexes use.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace edgeslm {
std::vector<uint32_t> utf8_decode(const std::string &text);  // invalid bytes become U+FFFD, like Rust's lossy
void utf8_append(std::string &out, uint32_t cp);
bool is_letter(uint32_t cp);      // \p{L}
bool is_number(uint32_t cp);      // \p{N}
bool is_mark(uint32_t cp);        // \p{M}
bool is_whitespace(uint32_t cp);  // \s = the White_Space property
bool is_word(uint32_t cp);        // \w = letters, marks, numbers, connector punctuation (Pc)
// How many bytes at the end of `bytes` form an incomplete UTF-8 sequence (0 when it ends on a whole character).
size_t utf8_incomplete_tail(const std::string &bytes);
// Rust's String::from_utf8_lossy (one U+FFFD per maximal ill-formed subpart); with keep_incomplete_tail, a last
// character whose bytes are still arriving is kept raw instead.
std::string utf8_lossy(const std::string &bytes, bool keep_incomplete_tail);
// Unicode Normalization Form C (unicode_nfc.cpp), as the NFC normalizer of Qwen2's tokenizer.json applies it.
std::vector<uint32_t> nfc(const std::vector<uint32_t> &text);
}  // namespace edgeslm
