#include "normalizer.h"

#include "tokenizer_json.h"
#include "unicode.h"

namespace edgeslm {

Normalizer::Normalizer(const nlohmann::json &spec) {
  for (const auto &s : steps_of(spec, "normalizers")) {
    std::string t = type_of(s);
    if (t == "Prepend") {
      steps_.push_back({Kind::Prepend, "", s.at("prepend").get<std::string>()});
    } else if (t == "Replace") {
      std::string pattern;
      if (!string_pattern(s.at("pattern"), pattern) || pattern.empty())
        unsupported("Replace normalizer with a regex pattern");
      steps_.push_back({Kind::Replace, pattern, s.at("content").get<std::string>()});
    } else if (t == "NFC") {
      steps_.push_back({Kind::NFC, "", ""});
    } else {
      unsupported("normalizer '" + t + "'");
    }
  }
}

std::string Normalizer::apply(const std::string &text) const {
  std::string s = text;
  for (const auto &step : steps_) {
    switch (step.kind) {
      case Kind::Prepend:
        if (!s.empty()) s = step.content + s;
        break;
      case Kind::Replace: {
        std::string out;
        size_t at = 0;
        for (size_t hit; (hit = s.find(step.pattern, at)) != std::string::npos; at = hit + step.pattern.size())
          out.append(s, at, hit - at).append(step.content);
        s = out.append(s, at, std::string::npos);
        break;
      }
      case Kind::NFC: {
        std::string out;
        for (uint32_t cp : nfc(utf8_decode(s))) utf8_append(out, cp);
        s = out;
        break;
      }
    }
  }
  return s;
}
}  // namespace edgeslm
