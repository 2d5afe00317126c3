#include "token_decoder.h"

#include <unordered_map>

#include "pre_tokenizer.h"
#include "tokenizer_json.h"
#include "unicode.h"

namespace edgeslm {
namespace {
std::string replace_all(const std::string &s, const std::string &from, const std::string &to) {
  std::string out;
  size_t at = 0;
  for (size_t hit; (hit = s.find(from, at)) != std::string::npos; at = hit + from.size()) out.append(s, at, hit - at).append(to);
  return out.append(s, at, std::string::npos);
}

// A token spelled in byte-level characters back to its bytes; a token with any other character stays as it is.
std::string byte_level_bytes(const std::string &token) {
  static const std::unordered_map<uint32_t, char> bytes = [] {
    std::unordered_map<uint32_t, char> m;
    for (int b = 0; b < 256; ++b) m[byte_chars()[b]] = static_cast<char>(b);
    return m;
  }();
  std::string out;
  for (uint32_t c : utf8_decode(token)) {
    auto it = bytes.find(c);
    if (it == bytes.end()) return token;
    out += it->second;
  }
  return out;
}

// A run of byte tokens as tokenizers' ByteFallback decodes it: the bytes when they are valid UTF-8, else one
// U+FFFD per byte; at the very end a run that is valid but for an incomplete last character stays raw (a stream
// is waiting for the rest of that character).
std::string fallback_text(const std::string &bytes, bool at_end) {
  size_t tail = at_end ? utf8_incomplete_tail(bytes) : 0;
  std::string head = bytes.substr(0, bytes.size() - tail);
  std::string check;
  for (uint32_t c : utf8_decode(head)) utf8_append(check, c);
  if (check == head) return bytes;
  std::string out;
  for (size_t k = 0; k < bytes.size(); ++k) out += "\xEF\xBF\xBD";
  return out;
}

int byte_token(const std::string &t) {  // <0xXX> -> XX, else -1
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  try {
    size_t used = 0;
    int v = std::stoi(t.substr(3, 2), &used, 16);
    return used == 2 ? v : -1;
  } catch (const std::exception &) {
    return -1;
  }
}
}  // namespace

TokenDecoder::TokenDecoder(const nlohmann::json &spec) {
  for (const auto &s : steps_of(spec, "decoders")) {
    std::string t = type_of(s);
    Step step{Kind::Fuse};
    if (t == "ByteLevel") {
      step.kind = Kind::ByteLevel;
    } else if (t == "BPEDecoder") {
      step.kind = Kind::BPEDecoder;
      step.a = s.value("suffix", "</w>");
    } else if (t == "Replace") {
      step.kind = Kind::Replace;
      if (!string_pattern(s.at("pattern"), step.a) || step.a.empty()) unsupported("Replace decoder with a regex");
      step.b = s.at("content").get<std::string>();
    } else if (t == "ByteFallback") {
      step.kind = Kind::ByteFallback;
    } else if (t == "Fuse") {
      step.kind = Kind::Fuse;
    } else if (t == "Strip") {
      step.kind = Kind::Strip;
      step.a = s.at("content").get<std::string>();
      step.start = s.value("start", 0);
      step.stop = s.value("stop", 0);
    } else if (t == "Metaspace") {
      step.kind = Kind::Metaspace;
      step.a = s.value("replacement", "\xE2\x96\x81");
      step.prepend = s.contains("prepend_scheme") ? s["prepend_scheme"].get<std::string>() != "never"
                                                  : s.value("add_prefix_space", true);
    } else {
      unsupported("decoder '" + t + "'");
    }
    steps_.push_back(step);
  }
}

std::string TokenDecoder::decode(std::vector<std::string> tokens) const {
  for (const auto &s : steps_) {
    std::vector<std::string> out;
    switch (s.kind) {
      case Kind::ByteLevel: {
        std::string all;
        for (const auto &t : tokens) all += byte_level_bytes(t);
        out.push_back(utf8_lossy(all, true));
        break;
      }
      case Kind::BPEDecoder:
        for (size_t i = 0; i < tokens.size(); ++i)
          out.push_back(replace_all(tokens[i], s.a, i + 1 == tokens.size() ? "" : " "));
        break;
      case Kind::Replace:
        for (const auto &t : tokens) out.push_back(replace_all(t, s.a, s.b));
        break;
      case Kind::ByteFallback: {
        std::string pending;
        for (const auto &t : tokens) {
          int b = byte_token(t);
          if (b >= 0) {
            pending += static_cast<char>(b);
            continue;
          }
          if (!pending.empty()) out.push_back(fallback_text(pending, false)), pending.clear();
          out.push_back(t);
        }
        if (!pending.empty()) out.push_back(fallback_text(pending, true));
        break;
      }
      case Kind::Fuse: {
        std::string all;
        for (const auto &t : tokens) all += t;
        out.push_back(all);
        break;
      }
      case Kind::Strip:
        for (const auto &t : tokens) {
          size_t a = 0, e = t.size();
          for (size_t k = 0; k < s.start && t.compare(a, s.a.size(), s.a) == 0 && a + s.a.size() <= e; ++k) a += s.a.size();
          for (size_t k = 0; k < s.stop && e >= a + s.a.size() && t.compare(e - s.a.size(), s.a.size(), s.a) == 0; ++k)
            e -= s.a.size();
          out.push_back(t.substr(a, e - a));
        }
        break;
      case Kind::Metaspace:
        for (size_t i = 0; i < tokens.size(); ++i)
          out.push_back(replace_all(tokens[i], s.a, i == 0 && s.prepend ? "" : " "));
        break;
    }
    tokens.swap(out);
  }
  std::string text;
  for (const auto &t : tokens) text += t;
  return text;
}
}  // namespace edgeslm
