// The bundle's chat template, for its simple case: ChatML (`<|im_start|>role\n...<|im_end|>\n`), as SmolLM2 and
// Qwen2 use, including a default system message the template inserts when the conversation has none. Jinja is not
// interpreted: a template of another family is refused with a clear message (pass the prompt raw instead).
#pragma once
#include <string>

namespace edgeslm {

class ChatTemplate {
 public:
  // Reads chat_template.jinja, else tokenizer_config.json's "chat_template"; `present` false when neither exists.
  explicit ChatTemplate(const std::string &bundle_folder);
  bool present() const { return !source_.empty(); }
  // One user turn + the generation prompt. Throws std::runtime_error for a template this engine cannot render.
  std::string render_user_turn(const std::string &user) const;

 private:
  std::string source_;
  std::string default_system_;  // empty when the template inserts none
};
}  // namespace edgeslm
