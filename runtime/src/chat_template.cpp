#include "chat_template.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bundle.h"
#include "unicode.h"

namespace edgeslm {
namespace {
// Jinja's `trim` is Python's str.strip(): White_Space and the separators U+001C..U+001F.
bool python_space(uint32_t c) { return is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

std::string python_strip(const std::string &s) {
  std::vector<uint32_t> cp = utf8_decode(s);
  size_t a = 0, e = cp.size();
  while (a < e && python_space(cp[a])) ++a;
  while (e > a && python_space(cp[e - 1])) --e;
  std::string out;
  for (size_t k = a; k < e; ++k) utf8_append(out, cp[k]);
  return out;
}
}  // namespace

ChatTemplate::ChatTemplate(const std::string &folder) {
  std::ifstream generation(folder + "/generation.json");
  if (generation) {
    auto g = nlohmann::json::parse(read_text_file(folder + "/generation.json"), nullptr, false);
    if (g.is_object() && g.contains("chat_turn") && g["chat_turn"].is_object()) {
      const auto &t = g["chat_turn"];
      prefix_ = t.value("prefix", "");
      suffix_ = t.value("suffix", "");
      trim_ = t.value("trim", false);
      has_turn_ = true;
      return;
    }
  }
  std::ifstream jinja(folder + "/chat_template.jinja");
  if (jinja) {
    source_ = read_text_file(folder + "/chat_template.jinja");
  } else {
    std::ifstream cfg(folder + "/tokenizer_config.json");
    if (cfg) {
      auto j = nlohmann::json::parse(read_text_file(folder + "/tokenizer_config.json"), nullptr, false);
      if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string())
        source_ = j["chat_template"].get<std::string>();
    }
  }
  // A literal default system turn: '<|im_start|>system\n...<|im_end|>' inside a string of the template, used when
  // messages[0] is not a system message.
  const std::string open = "<|im_start|>system\n", close = "<|im_end|>";
  size_t at = source_.find(open);
  if (at != std::string::npos && source_.find("messages[0]['role'] != 'system'") != std::string::npos) {
    size_t end = source_.find(close, at);
    if (end != std::string::npos) default_system_ = source_.substr(at + open.size(), end - at - open.size());
  }
}

std::string ChatTemplate::render_user_turn(const std::string &user) const {
  if (has_turn_) return prefix_ + (trim_ ? python_strip(user) : user) + suffix_;
  if (source_.empty()) return user;
  bool chatml = source_.find("<|im_start|>") != std::string::npos &&
                source_.find("'<|im_start|>' + message['role'] + '\n'") != std::string::npos;
  if (!chatml)
    throw std::runtime_error("this bundle's chat template is not ChatML, the one family the native engine renders "
                             "without a Jinja interpreter; pass the prompt raw (already formatted)");
  std::string out;
  if (!default_system_.empty()) out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
  out += "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
  return out;
}
}  // namespace edgeslm
