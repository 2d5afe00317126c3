#include "tokenizer.h"

#include "bundle.h"
#include "tokenizer_json.h"
#include "unicode.h"

namespace edgeslm {
using nlohmann::json;

namespace {
// The special tokens TemplateProcessing's "single" template puts before and after the sequence.
void template_ids(const json &post, std::vector<int32_t> &prefix, std::vector<int32_t> &suffix) {
  bool after = false;
  for (const auto &item : post.at("single")) {
    if (item.contains("Sequence")) {
      after = true;
      continue;
    }
    std::string name = item.at("SpecialToken").at("id").get<std::string>();
    for (const auto &id : post.at("special_tokens").at(name).at("ids"))
      (after ? suffix : prefix).push_back(id.get<int32_t>());
  }
}

size_t utf8_char_start(const std::string &s, size_t i) {  // the first byte of the character ending before i
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  return i > 0 ? i - 1 : 0;
}
}  // namespace

Tokenizer::Tokenizer(const std::string &path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception &e) {
    throw std::runtime_error(path + " is not valid JSON: " + e.what());
  }
  model_ = std::make_unique<Bpe>(j.at("model"));
  normalizer_ = std::make_unique<Normalizer>(j["normalizer"]);
  pre_ = std::make_unique<PreTokenizer>(j["pre_tokenizer"]);
  decoder_ = std::make_unique<TokenDecoder>(j["decoder"]);
  has_decoder_ = !j["decoder"].is_null();

  for (const auto &a : j["added_tokens"]) {
    Added t{a.at("content").get<std::string>(), a.at("id").get<int32_t>(), a.value("special", false),
            a.value("lstrip", false), a.value("rstrip", false)};
    if (a.value("single_word", false)) unsupported("added token '" + t.content + "' with single_word");
    added_ids_[t.content] = t.id;
    bool normalized = a.value("normalized", !t.special);
    if (normalized) t.content = normalizer_->apply(t.content);  // matched, and decoded, in normalized form
    added_text_[t.id] = t.content;
    if (t.special) special_.insert(t.id);
    if (!t.content.empty()) (normalized ? normalized_added_ : raw_added_).add(t);
  }

  json post = j["post_processor"];
  if (type_of(post) == "Sequence") {
    json found;
    for (const auto &p : post.at("processors"))
      if (type_of(p) == "TemplateProcessing") found = p;
      else if (type_of(p) != "ByteLevel") unsupported("post-processor '" + type_of(p) + "'");
    post = found;
  }
  if (type_of(post) == "TemplateProcessing") template_ids(post, prefix_ids_, suffix_ids_);
  else if (!post.is_null() && type_of(post) != "ByteLevel") unsupported("post-processor '" + type_of(post) + "'");
}

int32_t Tokenizer::token_id(const std::string &token) const {
  auto it = added_ids_.find(token);
  return it != added_ids_.end() ? it->second : model_->id_of(token);
}

void Tokenizer::AddedSet::add(const Added &a) {
  by_first[static_cast<unsigned char>(a.content[0])].push_back(tokens.size());
  tokens.push_back(a);
}

// Added tokens found leftmost-longest, as tokenizers' AddedVocabulary::find_matches does (lstrip takes the
// whitespace before the token into it, rstrip the whitespace after), and the text between them.
std::vector<Tokenizer::Segment> Tokenizer::split_added(const std::string &text, const AddedSet &set) const {
  std::vector<Segment> out;
  size_t done = 0, i = 0, n = text.size();
  while (i < n) {
    const Added *match = nullptr;
    for (size_t k : set.by_first[static_cast<unsigned char>(text[i])]) {
      const Added &a = set.tokens[k];
      if (text.compare(i, a.content.size(), a.content) == 0 && (!match || a.content.size() > match->content.size()))
        match = &a;
    }
    if (!match) {
      ++i;
      continue;
    }
    size_t begin = i, end = i + match->content.size();
    if (match->lstrip) {
      size_t b = begin;
      while (b > done) {
        size_t c = utf8_char_start(text, b);
        if (c < done || !is_whitespace(utf8_decode(text.substr(c, b - c))[0])) break;
        b = c;
      }
      begin = b;
    }
    if (match->rstrip) {  // one character at a time: only the whitespace itself is read
      while (end < n) {
        unsigned char lead = static_cast<unsigned char>(text[end]);
        size_t len = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
        std::vector<uint32_t> c = utf8_decode(text.substr(end, len));
        if (c.size() != 1 || !is_whitespace(c[0])) break;
        end += len;
      }
    }
    if (begin > done) out.push_back({done, begin, -1});
    out.push_back({begin, end, match->id});
    done = i = end;
  }
  if (done < n) out.push_back({done, n, -1});
  return out;
}

void Tokenizer::encode_text(const std::string &text, bool at_start, std::vector<int32_t> &ids) const {
  std::string normalized = normalizer_->apply(text);
  std::vector<std::string> words;
  for (const auto &seg : split_added(normalized, normalized_added_)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    words.clear();
    pre_->split(normalized.substr(seg.begin, seg.end - seg.begin), at_start && seg.begin == 0, words);
    for (const auto &w : words) model_->encode_word(w, ids);
  }
}

std::vector<int32_t> Tokenizer::encode(const std::string &text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = prefix_ids_;
  for (const auto &seg : split_added(text, raw_added_)) {
    if (seg.id >= 0) ids.push_back(seg.id);
    else encode_text(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, ids);
  }
  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool skip_special) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    auto added = added_text_.find(id);
    if (added != added_text_.end()) {
      tokens.push_back(added->second);
    } else if (const std::string *t = model_->token_of(id)) {
      tokens.push_back(*t);
    }  // an id that names no token is skipped, as tokenizers does
  }
  if (has_decoder_) return decoder_->decode(tokens);
  std::string out;  // no decoder: tokenizers joins the tokens with spaces
  for (size_t k = 0; k < tokens.size(); ++k) out += (k ? " " : "") + tokens[k];
  return out;
}
}  // namespace edgeslm
