#include "tokenizer.h"

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bundle.h"
#include "unicode.h"

namespace edgeslm {
using nlohmann::json;

namespace {
[[noreturn]] void unsupported(const std::string &what) {
  throw std::runtime_error("unsupported tokenizer: " + what +
                           " (the native engine implements byte-level BPE with the GPT-2 pre-tokenizer regex, as SmolLM2 and GPT-2 use; "
                           "Split-regex (Llama 3, Qwen2) and SentencePiece/Metaspace tokenizers are not supported yet)");
}

std::string type_of(const json &j) { return j.is_object() ? j.value("type", "") : ""; }

// GPT-2's ByteLevel regex, as a scanner: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_byte_level(const std::vector<uint32_t> &cp, std::vector<std::pair<size_t, size_t>> &spans) {
  size_t n = cp.size(), i = 0;
  auto other = [](uint32_t c) { return !is_whitespace(c) && !is_letter(c) && !is_number(c); };
  while (i < n) {
    uint32_t c = cp[i];
    size_t j = i;
    if (c == '\'' && i + 1 < n) {
      uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') j = i + 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) j = i + 3;
      if (j != i) {
        spans.emplace_back(i, j);
        i = j;
        continue;
      }
    }
    size_t k = (c == ' ' && i + 1 < n) ? i + 1 : i;  // the optional leading space
    uint32_t d = cp[k];
    if (!(k == i + 1 && d == ' ')) {
      bool (*cls)(uint32_t) = nullptr;
      if (is_letter(d)) cls = is_letter;
      else if (is_number(d)) cls = is_number;
      else if (other(d)) cls = +[](uint32_t x) { return !is_whitespace(x) && !is_letter(x) && !is_number(x); };
      if (cls && (k == i || c == ' ')) {
        j = k;
        while (j < n && cls(cp[j])) ++j;
        spans.emplace_back(i, j);
        i = j;
        continue;
      }
    }
    // whitespace: \s+(?!\S) then \s+
    j = i;
    while (j < n && is_whitespace(cp[j])) ++j;
    if (j == n || j - i == 1) {
      spans.emplace_back(i, j == n ? n : j);
      i = j;
    } else {
      spans.emplace_back(i, j - 1);  // leave the last space to join the next word
      i = j - 1;
    }
  }
}

// tokenizers' Whitespace pre-tokenizer: \w+|[^\w\s]+
void split_whitespace(const std::vector<uint32_t> &cp, std::vector<std::pair<size_t, size_t>> &spans) {
  size_t n = cp.size(), i = 0;
  while (i < n) {
    if (is_whitespace(cp[i])) { ++i; continue; }
    bool word = is_word(cp[i]);
    size_t j = i;
    while (j < n && !is_whitespace(cp[j]) && is_word(cp[j]) == word) ++j;
    spans.emplace_back(i, j);
    i = j;
  }
}
}  // namespace

Tokenizer::Tokenizer(const std::string &path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception &e) {
    throw std::runtime_error(path + " is not valid JSON: " + e.what());
  }
  const json &model = j.at("model");
  if (type_of(model) != "BPE") unsupported("model type '" + type_of(model) + "'");
  if (!j["normalizer"].is_null()) unsupported("normalizer '" + type_of(j["normalizer"]) + "'");
  if (model.value("byte_fallback", false)) unsupported("byte_fallback");
  if (!model["dropout"].is_null() && model["dropout"].get<double>() > 0) unsupported("BPE dropout");
  if (!model.value("continuing_subword_prefix", json("")).is_null() &&
      !model.value("continuing_subword_prefix", json("")).get<std::string>().empty())
    unsupported("continuing_subword_prefix");
  if (model.value("ignore_merges", false)) unsupported("ignore_merges");

  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    int32_t id = it.value().get<int32_t>();
    vocab_[it.key()] = id;
    if (id >= static_cast<int32_t>(id_to_token_.size())) id_to_token_.resize(id + 1);
    id_to_token_[id] = it.key();
  }
  int rank = 0;
  for (const auto &m : model["merges"]) {
    std::string a, b;
    if (m.is_array()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    }
    merge_rank_.emplace(a + '\x01' + b, rank++);
  }
  if (model.contains("unk_token") && model["unk_token"].is_string())
    unk_id_ = token_id(model["unk_token"].get<std::string>());

  for (const auto &a : j["added_tokens"]) {
    Added t{a.at("content").get<std::string>(), a.at("id").get<int32_t>(), a.value("special", false)};
    if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false))
      unsupported("added token '" + t.content + "' with lstrip/rstrip/single_word");
    if (t.id >= static_cast<int32_t>(id_to_token_.size())) id_to_token_.resize(t.id + 1);
    id_to_token_[t.id] = t.content;
    vocab_[t.content] = t.id;
    added_.push_back(t);
  }
  special_.assign(id_to_token_.size(), false);
  for (const auto &a : added_)
    if (a.special) special_[a.id] = true;

  // pre-tokenizer
  const json &pre = j["pre_tokenizer"];
  std::vector<json> steps;
  if (type_of(pre) == "Sequence") steps.assign(pre["pretokenizers"].begin(), pre["pretokenizers"].end());
  else if (!pre.is_null()) steps.push_back(pre);
  bool have_split = false;
  for (const auto &s : steps) {
    std::string t = type_of(s);
    if (t == "Digits" && !have_split) {
      split_digits_ = true;
      individual_digits_ = s.value("individual_digits", false);
    } else if (t == "ByteLevel" && !have_split) {
      if (!s.value("use_regex", true)) unsupported("ByteLevel without its regex (a Split pre-tokenizer)");
      pre_ = Pre::ByteLevel;
      add_prefix_space_ = s.value("add_prefix_space", false);
      have_split = true;
    } else if (t == "Whitespace" && !have_split) {
      pre_ = Pre::Whitespace;
      have_split = true;
    } else {
      unsupported("pre-tokenizer '" + t + "'");
    }
  }
  if (!have_split) unsupported("no ByteLevel/Whitespace pre-tokenizer");

  // decoder
  std::string dec = type_of(j["decoder"]);
  if (dec == "ByteLevel") byte_level_decoder_ = true;
  else if (dec == "BPEDecoder") {
    byte_level_decoder_ = false;
    bpe_suffix_ = j["decoder"].value("suffix", "</w>");
  } else unsupported("decoder '" + dec + "'");
  if (pre_ == Pre::ByteLevel && !byte_level_decoder_) unsupported("a ByteLevel pre-tokenizer with a non-ByteLevel decoder");

  // post-processor: TemplateProcessing's "single" (special tokens around the sequence), ByteLevel (ids unchanged)
  json post = j["post_processor"];
  if (type_of(post) == "Sequence") {
    json found;
    for (const auto &p : post["processors"])
      if (type_of(p) == "TemplateProcessing") found = p;
      else if (type_of(p) != "ByteLevel") unsupported("post-processor '" + type_of(p) + "'");
    post = found;
  }
  if (type_of(post) == "TemplateProcessing") {
    bool after = false;
    for (const auto &item : post["single"]) {
      if (item.contains("Sequence")) { after = true; continue; }
      std::string name = item.at("SpecialToken").at("id").get<std::string>();
      for (const auto &id : post["special_tokens"].at(name).at("ids"))
        (after ? suffix_ids_ : prefix_ids_).push_back(id.get<int32_t>());
    }
  } else if (!post.is_null() && type_of(post) != "ByteLevel") {
    unsupported("post-processor '" + type_of(post) + "'");
  }

  // GPT-2's bytes_to_unicode
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? b : 256 + extra++;
    utf8_append(byte_to_char_[b], cp);
    char_to_byte_[cp] = static_cast<unsigned char>(b);
  }
}

int32_t Tokenizer::token_id(const std::string &token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < (int32_t)special_.size() && special_[id]; }

void Tokenizer::pre_tokenize(const std::string &text, std::vector<std::string> &words) const {
  std::vector<uint32_t> cp = utf8_decode(text);
  if (pre_ == Pre::ByteLevel && add_prefix_space_ && !cp.empty() && cp[0] != ' ') cp.insert(cp.begin(), ' ');
  // Digits first (it runs before the main split in a Sequence): numbers become their own pieces.
  std::vector<std::pair<size_t, size_t>> pieces;
  if (split_digits_) {
    size_t i = 0, n = cp.size();
    while (i < n) {
      size_t j = i;
      bool num = is_number(cp[i]);
      if (num && individual_digits_) j = i + 1;
      else while (j < n && is_number(cp[j]) == num) ++j;
      pieces.emplace_back(i, j);
      i = j;
    }
  } else {
    pieces.emplace_back(0, cp.size());
  }
  std::vector<std::pair<size_t, size_t>> spans;
  for (auto [a, b] : pieces) {
    std::vector<uint32_t> part(cp.begin() + a, cp.begin() + b);
    std::vector<std::pair<size_t, size_t>> local;
    if (pre_ == Pre::ByteLevel) split_byte_level(part, local);
    else split_whitespace(part, local);
    for (auto [x, y] : local) spans.emplace_back(a + x, a + y);
  }
  for (auto [a, b] : spans) {
    std::string w;
    if (pre_ == Pre::ByteLevel) {
      std::string raw;
      for (size_t k = a; k < b; ++k) utf8_append(raw, cp[k]);
      for (unsigned char byte : raw) w += byte_to_char_[byte];
    } else {
      for (size_t k = a; k < b; ++k) utf8_append(w, cp[k]);
    }
    words.push_back(std::move(w));
  }
}

void Tokenizer::bpe(const std::string &word, std::vector<int32_t> &out) const {
  auto cached = cache_.find(word);
  if (cached != cache_.end()) {
    out.insert(out.end(), cached->second.begin(), cached->second.end());
    return;
  }
  std::vector<std::string> sym;
  for (uint32_t c : utf8_decode(word)) {
    std::string s;
    utf8_append(s, c);
    sym.push_back(s);
  }
  while (sym.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merge_rank_.find(sym[i] + '\x01' + sym[i + 1]);
      if (it != merge_rank_.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT_MAX) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + at + 1);
  }
  std::vector<int32_t> ids;
  for (const auto &s : sym) {
    int32_t id = token_id(s);
    if (id >= 0) ids.push_back(id);
    else if (unk_id_ >= 0) ids.push_back(unk_id_);
  }
  if (cache_.size() < 100000) cache_.emplace(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

std::vector<int32_t> Tokenizer::encode(const std::string &text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = prefix_ids_;
  size_t start = 0, i = 0, n = text.size();
  std::vector<std::string> words;
  auto flush = [&](size_t end) {
    if (end > start) {
      words.clear();
      pre_tokenize(text.substr(start, end - start), words);
      for (const auto &w : words) bpe(w, ids);
    }
  };
  while (i < n) {
    const Added *match = nullptr;
    for (const auto &a : added_)
      if (!a.content.empty() && text.compare(i, a.content.size(), a.content) == 0 &&
          (!match || a.content.size() > match->content.size()))
        match = &a;
    if (match) {
      flush(i);
      ids.push_back(match->id);
      i += match->content.size();
      start = i;
    } else {
      ++i;
    }
  }
  flush(n);
  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool skip_special) const {
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    int32_t id = ids[k];
    if (id < 0 || id >= (int32_t)id_to_token_.size()) continue;
    if (skip_special && special_[id]) continue;
    const std::string &tok = id_to_token_[id];
    bool added = false;
    for (const auto &a : added_) added = added || a.id == id;
    if (added) {  // added tokens are kept verbatim by the decoders
      out += tok;
    } else if (byte_level_decoder_) {
      for (uint32_t c : utf8_decode(tok)) {
        auto it = char_to_byte_.find(c);
        if (it != char_to_byte_.end()) out += static_cast<char>(it->second);
        else utf8_append(out, c);
      }
    } else {
      std::string t = tok;
      size_t at = t.find(bpe_suffix_);
      if (!bpe_suffix_.empty() && at != std::string::npos)
        t.replace(at, bpe_suffix_.size(), k + 1 == ids.size() ? "" : " ");
      out += t;
    }
  }
  return out;
}
}  // namespace edgeslm
