#include "pre_tokenizer.h"

#include <algorithm>

#include "tokenizer_json.h"
#include "unicode.h"

namespace edgeslm {

const std::vector<uint32_t> &byte_chars() {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? b : 256 + extra++;
    }
    return t;
  }();
  return table;
}

PreTokenizer::Behavior PreTokenizer::behavior_of(const std::string &name) {
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  unsupported("Split behavior '" + name + "'");
}

PreTokenizer::PreTokenizer(const nlohmann::json &spec) {
  for (const auto &s : steps_of(spec, "pretokenizers")) {
    std::string t = type_of(s);
    Step step{Kind::Whitespace};
    if (t == "ByteLevel") {
      step.kind = Kind::ByteLevel;
      step.flag = s.value("add_prefix_space", false);
      step.use_regex = s.value("use_regex", true);
      byte_level_ = true;
    } else if (t == "Whitespace") {
      step.kind = Kind::Whitespace;
    } else if (t == "Digits") {
      step.kind = Kind::Digits;
      step.flag = s.value("individual_digits", false);
    } else if (t == "Split") {
      if (s.value("invert", false)) unsupported("an inverted Split pre-tokenizer");
      step.behavior = behavior_of(s.at("behavior").get<std::string>());
      std::string pattern;
      if (string_pattern(s.at("pattern"), pattern)) {
        if (pattern.empty()) unsupported("a Split pre-tokenizer on the empty string");
        step.kind = Kind::SplitString;
        step.pattern = utf8_decode(pattern);
      } else {
        step.kind = Kind::SplitRegex;
        std::string regex = s.at("pattern").value("Regex", "");
        step.regex = known_regex(regex);
        if (step.regex == KnownRegex::None) unsupported("Split regex '" + regex + "'");
      }
    } else if (t == "Metaspace") {
      step.kind = Kind::Metaspace;
      step.pattern = utf8_decode(s.value("replacement", "\xE2\x96\x81"));
      if (step.pattern.size() != 1) unsupported("a Metaspace replacement of more than one character");
      step.flag = s.value("split", true);
      std::string scheme = s.contains("prepend_scheme") ? s["prepend_scheme"].get<std::string>()
                                                        : (s.value("add_prefix_space", true) ? "always" : "never");
      step.prepend = scheme == "never" ? 0 : scheme == "first" ? 1 : 2;
    } else {
      unsupported("pre-tokenizer '" + t + "'");
    }
    steps_.push_back(step);
  }
}

// Matches (the pattern's spans) and the gaps between them, cut into pieces the way SplitDelimiterBehavior does.
void PreTokenizer::apply_behavior(const Piece &p, const Spans &matches, Behavior b, std::vector<Piece> &out) {
  struct Part {
    size_t a, e;
    bool match;
  };
  std::vector<Part> parts;
  size_t at = 0;
  for (auto [a, e] : matches) {
    if (a > at) parts.push_back({at, a, false});
    parts.push_back({a, e, true});
    at = e;
  }
  if (at < p.cp.size()) parts.push_back({at, p.cp.size(), false});

  std::vector<std::pair<size_t, size_t>> cut;
  bool previous = false;
  if (b == Behavior::MergedWithNext) {
    for (size_t k = parts.size(); k-- > 0;) {
      if (parts[k].match && !previous && !cut.empty()) cut.back().first = parts[k].a;
      else cut.emplace_back(parts[k].a, parts[k].e);
      previous = parts[k].match;
    }
    std::reverse(cut.begin(), cut.end());
  } else {
    for (const auto &part : parts) {
      bool merge = b == Behavior::MergedWithPrevious ? part.match && !previous
                   : b == Behavior::Contiguous        ? part.match == previous
                                                      : false;
      if (b == Behavior::Removed && part.match) {
      } else if (merge && !cut.empty()) {
        cut.back().second = part.e;
      } else {
        cut.emplace_back(part.a, part.e);
      }
      previous = part.match;
    }
  }
  for (auto [a, e] : cut)
    if (e > a) out.push_back({std::vector<uint32_t>(p.cp.begin() + a, p.cp.begin() + e), p.first && a == 0});
}

void PreTokenizer::run(const Step &s, const Piece &p, std::vector<Piece> &out) const {
  Spans spans;
  switch (s.kind) {
    case Kind::ByteLevel: {
      Piece q = p;
      if (s.flag && (q.cp.empty() || q.cp[0] != ' ')) q.cp.insert(q.cp.begin(), ' ');
      std::vector<Piece> cut;
      if (s.use_regex) {
        gpt2_spans(q.cp, spans);
        apply_behavior(q, spans, Behavior::Isolated, cut);
      } else {
        cut.push_back(q);
      }
      for (auto &c : cut) {  // each character's UTF-8 bytes, spelled as printable characters
        std::string raw;
        for (uint32_t x : c.cp) utf8_append(raw, x);
        c.cp.clear();
        for (unsigned char byte : raw) c.cp.push_back(byte_chars()[byte]);
        out.push_back(std::move(c));
      }
      return;
    }
    case Kind::Whitespace:
      word_spans(p.cp, spans);
      for (auto [a, e] : spans) out.push_back({std::vector<uint32_t>(p.cp.begin() + a, p.cp.begin() + e), p.first && a == 0});
      return;
    case Kind::Digits:
      for (size_t i = 0; i < p.cp.size(); ++i)
        if (is_number(p.cp[i])) {
          size_t j = i + 1;
          while (!s.flag && j < p.cp.size() && is_number(p.cp[j])) ++j;
          spans.emplace_back(i, j);
          i = j - 1;
        }
      apply_behavior(p, spans, s.flag ? Behavior::Isolated : Behavior::Contiguous, out);
      return;
    case Kind::SplitString:
      for (size_t i = 0; i + s.pattern.size() <= p.cp.size();) {
        if (std::equal(s.pattern.begin(), s.pattern.end(), p.cp.begin() + i)) {
          spans.emplace_back(i, i + s.pattern.size());
          i += s.pattern.size();
        } else {
          ++i;
        }
      }
      apply_behavior(p, spans, s.behavior, out);
      return;
    case Kind::SplitRegex:
      regex_spans(s.regex, p.cp, spans);
      apply_behavior(p, spans, s.behavior, out);
      return;
    case Kind::Metaspace: {
      uint32_t rep = s.pattern[0];
      Piece q = p;
      for (auto &c : q.cp)
        if (c == ' ') c = rep;
      if ((q.cp.empty() || q.cp[0] != rep) && (s.prepend == 2 || (s.prepend == 1 && q.first)))
        q.cp.insert(q.cp.begin(), rep);
      if (!s.flag) {
        out.push_back(std::move(q));
        return;
      }
      for (size_t i = 0; i < q.cp.size(); ++i)
        if (q.cp[i] == rep) spans.emplace_back(i, i + 1);
      apply_behavior(q, spans, Behavior::MergedWithNext, out);
      return;
    }
  }
}

void PreTokenizer::split(const std::string &text, bool at_start, std::vector<std::string> &words) const {
  std::vector<Piece> pieces{{utf8_decode(text), at_start}}, next;
  for (const auto &step : steps_) {
    next.clear();
    for (const auto &p : pieces) run(step, p, next);
    pieces.swap(next);
  }
  for (const auto &p : pieces) {
    if (p.cp.empty()) continue;
    std::string w;
    for (uint32_t c : p.cp) utf8_append(w, c);
    words.push_back(std::move(w));
  }
}
}  // namespace edgeslm
