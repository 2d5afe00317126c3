#include "bpe.h"

#include <cstdio>
#include <queue>

#include "tokenizer_json.h"
#include "unicode.h"

namespace edgeslm {

Bpe::Bpe(const nlohmann::json &model) {
  if (type_of(model) != "BPE") unsupported("model type '" + type_of(model) + "'");
  auto dropout = model.value("dropout", nlohmann::json());
  if (dropout.is_number() && dropout.get<double>() > 0) unsupported("BPE dropout");
  auto prefix = model.value("continuing_subword_prefix", nlohmann::json());
  if (prefix.is_string() && !prefix.get<std::string>().empty()) unsupported("continuing_subword_prefix");
  auto suffix = model.value("end_of_word_suffix", nlohmann::json());
  if (suffix.is_string()) end_of_word_suffix_ = suffix.get<std::string>();
  byte_fallback_ = model.value("byte_fallback", false);
  fuse_unk_ = model.value("fuse_unk", false);
  ignore_merges_ = model.value("ignore_merges", false);

  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) add_vocab(it.key(), it.value());
  int rank = 0;
  for (const auto &m : model.at("merges")) {
    std::string a, b;
    if (m.is_array()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) throw std::runtime_error("tokenizer.json: merge '" + s + "' has no space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    }
    int32_t ia = id_of(a), ib = id_of(b), merged = id_of(a + b);
    if (ia < 0 || ib < 0 || merged < 0)
      throw std::runtime_error("tokenizer.json: merge '" + a + " " + b + "' names a token outside the vocabulary");
    merges_[pair_key(ia, ib)] = Merge{rank++, merged};  // a repeated pair: the later rank wins, as in tokenizers
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    unk_id_ = id_of(model["unk_token"].get<std::string>());
    if (unk_id_ < 0) throw std::runtime_error("tokenizer.json: the unk_token is not in the vocabulary");
  }
}

int32_t Bpe::id_of(const std::string &token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void Bpe::add_vocab(const std::string &content, int32_t id) {
  if (id < 0) throw std::runtime_error("tokenizer.json: negative token id");
  vocab_[content] = id;
  if (id >= static_cast<int32_t>(id_to_token_.size())) {
    id_to_token_.resize(id + 1);
    has_id_.resize(id + 1, false);
  }
  id_to_token_[id] = content;
  has_id_[id] = true;
}

void Bpe::merge_all(std::vector<int32_t> &ids, std::vector<size_t> &lens) const {
  struct Symbol {
    int32_t id;
    long prev, next;
    size_t len;
  };
  struct Candidate {
    int rank;
    size_t pos;
    int32_t new_id;
    bool operator<(const Candidate &o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Symbol> sym(ids.size());
  std::priority_queue<Candidate> queue;
  for (size_t i = 0; i < ids.size(); ++i) {
    sym[i] = {ids[i], long(i) - 1, i + 1 < ids.size() ? long(i + 1) : -1, lens[i]};
    if (i + 1 < ids.size()) {
      auto m = merges_.find(pair_key(ids[i], ids[i + 1]));
      if (m != merges_.end()) queue.push({m->second.rank, i, m->second.new_id});
    }
  }
  auto offer = [&](size_t left) {
    if (sym[left].next < 0) return;
    auto m = merges_.find(pair_key(sym[left].id, sym[sym[left].next].id));
    if (m != merges_.end()) queue.push({m->second.rank, left, m->second.new_id});
  };
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = sym[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol &right = sym[left.next];
    auto m = merges_.find(pair_key(left.id, right.id));
    if (m == merges_.end() || m->second.new_id != top.new_id) continue;  // an outdated candidate
    left.id = top.new_id;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = long(top.pos);
    if (left.prev >= 0) offer(size_t(left.prev));
    offer(top.pos);
  }
  ids.clear();
  lens.clear();
  for (const auto &s : sym)
    if (s.len) {
      ids.push_back(s.id);
      lens.push_back(s.len);
    }
}

void Bpe::encode_word(const std::string &word, std::vector<int32_t> &out) const {
  if (ignore_merges_) {
    int32_t whole = id_of(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  auto cached = cache_.find(word);
  if (cached != cache_.end()) {
    out.insert(out.end(), cached->second.begin(), cached->second.end());
    return;
  }
  std::vector<uint32_t> chars = utf8_decode(word);
  std::vector<int32_t> ids;
  std::vector<size_t> lens;
  int32_t pending_unk = -1;
  size_t pending_len = 0;
  auto flush_unk = [&] {
    if (pending_unk >= 0) {
      ids.push_back(pending_unk);
      lens.push_back(pending_len);
      pending_unk = -1;
    }
  };
  for (size_t k = 0; k < chars.size(); ++k) {
    std::string s;
    utf8_append(s, chars[k]);
    size_t byte_len = s.size();
    if (k + 1 == chars.size()) s += end_of_word_suffix_;
    int32_t id = id_of(s);
    if (id >= 0) {
      flush_unk();
      ids.push_back(id);
      lens.push_back(byte_len);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char b : s.substr(0, byte_len)) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t bid = id_of(name);
        if (bid < 0) break;
        bytes.push_back(bid);
      }
      if (bytes.size() == byte_len) {
        // As tokenizers does: a pending unk stays pending, so it lands after these byte tokens.
        for (int32_t b : bytes) {
          ids.push_back(b);
          lens.push_back(1);
        }
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && fuse_unk_) {
        pending_len += byte_len;
      } else {
        flush_unk();
        pending_unk = unk_id_;
        pending_len = byte_len;
      }
    }
  }
  flush_unk();
  merge_all(ids, lens);
  if (word.size() < 256 && cache_.size() < 100000) cache_.emplace(word, ids);  // as tokenizers: short words only
  out.insert(out.end(), ids.begin(), ids.end());
}
}  // namespace edgeslm
