#include "unicode.h"

#include <algorithm>

namespace edgeslm {
namespace {
struct CodeRange {
  uint32_t lo, hi;
};
#include "unicode_tables.inc"

template <size_t N>
bool in(const CodeRange (&table)[N], uint32_t cp) {
  auto it = std::upper_bound(table, table + N, cp, [](uint32_t v, const CodeRange &r) { return v < r.lo; });
  return it != table && cp <= (it - 1)->hi;
}
}  // namespace

std::vector<uint32_t> utf8_decode(const std::string &text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF)))
      ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

void utf8_append(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_letter(uint32_t cp) { return cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') : in(kLetter, cp); }
bool is_number(uint32_t cp) { return cp < 0x80 ? (cp >= '0' && cp <= '9') : in(kNumber, cp); }
bool is_mark(uint32_t cp) { return cp >= 0x300 && in(kMark, cp); }

bool is_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

bool is_word(uint32_t cp) {
  static const uint32_t pc[] = {0x5F, 0x203F, 0x2040, 0x2054, 0xFE33, 0xFE34, 0xFE4D, 0xFE4E, 0xFE4F, 0xFF3F};
  return is_letter(cp) || is_number(cp) || is_mark(cp) || std::find(std::begin(pc), std::end(pc), cp) != std::end(pc);
}

size_t utf8_incomplete_tail(const std::string &bytes) {
  size_t n = bytes.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    auto c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead byte
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return static_cast<size_t>(len) > back ? back : 0;
  }
  return 0;
}
}  // namespace edgeslm

namespace edgeslm {
std::string utf8_lossy(const std::string &bytes, bool keep_incomplete_tail) {
  const auto *s = reinterpret_cast<const unsigned char *>(bytes.data());
  size_t n = bytes.size(), keep = keep_incomplete_tail ? utf8_incomplete_tail(bytes) : 0, i = 0;
  std::string out;
  out.reserve(n);
  while (i < n - keep) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    // the second byte's range depends on the lead (Unicode Table 3-7); later ones are 80..BF
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    int good = len ? 1 : 0;
    while (good > 0 && good < len && i + good < n) {
      unsigned char b = s[i + good];
      if (good == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
      ++good;
    }
    if (len && good == len) {
      out.append(bytes, i, len);
      i += len;
    } else {  // a maximal ill-formed subpart: one U+FFFD, as Rust's from_utf8_lossy
      out += "\xEF\xBF\xBD";
      i += good ? good : 1;
    }
  }
  return out.append(bytes, n - keep, keep);
}
}  // namespace edgeslm
