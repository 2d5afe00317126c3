// The bundle's chat template for one user turn. Bundles exported since generation.json carries "chat_turn" hold
// the turn as plain text (prefix + message + suffix, the message trimmed where the template trims it), derived by
// edgeslm/bundle/chat_turn.py from the template itself: every family (ChatML, Llama 3, Gemma, Phi-3, Mistral)
// renders exactly. Older bundles: ChatML (`<|im_start|>role\n...<|im_end|>\n`, SmolLM2 / Qwen2), including a
// default system message the template inserts. Jinja is not interpreted: anything else is refused with a clear
// message (pass the prompt raw instead).
#pragma once
#include <string>

namespace edgeslm {

class ChatTemplate {
 public:
  // Reads generation.json's "chat_turn", else chat_template.jinja or tokenizer_config.json's "chat_template";
  // `present` false when there is no template.
  explicit ChatTemplate(const std::string &bundle_folder);
  bool present() const { return has_turn_ || !source_.empty(); }
  // One user turn + the generation prompt. Throws std::runtime_error for a template this engine cannot render.
  std::string render_user_turn(const std::string &user) const;

 private:
  bool has_turn_ = false, trim_ = false;
  std::string prefix_, suffix_;
  std::string source_;
  std::string default_system_;  // empty when the template inserts none
};
}  // namespace edgeslm
