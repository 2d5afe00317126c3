// The C API of include/edgeslm/engine.h over Bundle, Tokenizer, ChatTemplate, DecoderModel and Sampler.
#include "edgeslm/engine.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "benchmark.h"
#include "bundle.h"
#include "chat_template.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"
#include "unicode.h"

struct edgeslm_engine {
  edgeslm::Bundle bundle;
  std::unique_ptr<edgeslm::Tokenizer> tokenizer;
  std::unique_ptr<edgeslm::ChatTemplate> chat;
  std::unique_ptr<edgeslm::DecoderModel> model;
};

namespace {
thread_local std::string last_error;

template <typename F>
auto guarded(F &&f, decltype(f()) failed) -> decltype(f()) {
  try {
    return f();
  } catch (const Ort::Exception &e) {
    last_error = std::string("ONNX Runtime: ") + e.what();
  } catch (const std::exception &e) {
    last_error = e.what();
  }
  return failed;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

extern "C" {

edgeslm_open_options edgeslm_default_open_options(void) { return {0, 1}; }

edgeslm_sampling edgeslm_default_sampling(void) { return {128, 0.f, 0, 1.f, 1.f, 0, 1}; }

const char *edgeslm_last_error(void) { return last_error.c_str(); }

const char *edgeslm_runtime_version(void) { return OrtGetApiBase()->GetVersionString(); }

edgeslm_engine *edgeslm_open(const char *bundle_dir, const edgeslm_open_options *options) {
  edgeslm_open_options o = options ? *options : edgeslm_default_open_options();
  return guarded(
      [&]() -> edgeslm_engine * {
        auto e = std::make_unique<edgeslm_engine>();
        e->bundle = edgeslm::open_bundle_folder(bundle_dir, o.verify_files != 0);
        e->tokenizer = std::make_unique<edgeslm::Tokenizer>(e->bundle.path("tokenizer.json"));
        e->chat = std::make_unique<edgeslm::ChatTemplate>(e->bundle.folder);
        e->model = std::make_unique<edgeslm::DecoderModel>(e->bundle.path(e->bundle.model_file), o.threads);
        return e.release();
      },
      nullptr);
}

void edgeslm_close(edgeslm_engine *engine) { delete engine; }

int edgeslm_vocab_size(edgeslm_engine *e) { return e->model->vocab_size(); }
int edgeslm_max_positions(edgeslm_engine *e) { return e->bundle.max_positions; }
void edgeslm_reset(edgeslm_engine *e) { e->model->reset(); }

int edgeslm_is_eos(edgeslm_engine *e, int32_t token) {
  return std::find(e->bundle.eos_ids.begin(), e->bundle.eos_ids.end(), token) != e->bundle.eos_ids.end();
}

const float *edgeslm_prefill(edgeslm_engine *e, const int32_t *ids, int count) {
  return guarded(
      [&]() -> const float * {
        std::vector<int64_t> wide(ids, ids + count);
        e->model->reset();
        return e->model->step(wide.data(), wide.size());
      },
      nullptr);
}

const float *edgeslm_decode(edgeslm_engine *e, int32_t token) {
  return guarded(
      [&]() -> const float * {
        int64_t id = token;
        return e->model->step(&id, 1);
      },
      nullptr);
}

int edgeslm_tokenize(edgeslm_engine *e, const char *text, int32_t *ids, int capacity) {
  return guarded(
      [&]() -> int {
        auto v = e->tokenizer->encode(text, false);
        std::copy_n(v.begin(), std::min<size_t>(v.size(), std::max(capacity, 0)), ids);
        return static_cast<int>(v.size());
      },
      -1);
}

static std::vector<int32_t> prompt_ids(edgeslm_engine *e, const char *prompt, bool use_chat_template) {
  // The raw path adds the post-processor's special tokens (as `tokenizer(prompt)` does); a rendered chat template
  // already holds its own (as apply_chat_template tokenizes).
  bool chat = use_chat_template && e->chat->present();
  return e->tokenizer->encode(chat ? e->chat->render_user_turn(prompt) : std::string(prompt), !chat);
}

int edgeslm_prompt_ids(edgeslm_engine *e, const char *prompt, int use_chat_template, int32_t *ids, int capacity) {
  return guarded(
      [&]() -> int {
        auto v = prompt_ids(e, prompt, use_chat_template != 0);
        std::copy_n(v.begin(), std::min<size_t>(v.size(), std::max(capacity, 0)), ids);
        return static_cast<int>(v.size());
      },
      -1);
}

int edgeslm_detokenize(edgeslm_engine *e, const int32_t *ids, int count, char *out, int capacity) {
  return guarded(
      [&]() -> int {
        std::string s = e->tokenizer->decode(std::vector<int32_t>(ids, ids + count), true);
        if (capacity > 0) {
          size_t n = std::min<size_t>(s.size(), capacity - 1);
          std::copy_n(s.data(), n, out);
          out[n] = '\0';
          return static_cast<int>(n);
        }
        return static_cast<int>(s.size());
      },
      -1);
}

int edgeslm_generate(edgeslm_engine *e, const char *prompt, const edgeslm_sampling *sampling,
                     edgeslm_token_callback callback, void *user, edgeslm_stats *stats) {
  edgeslm_sampling s = sampling ? *sampling : edgeslm_default_sampling();
  return guarded(
      [&]() -> int {
        auto t0 = std::chrono::steady_clock::now();
        std::vector<int32_t> ids = prompt_ids(e, prompt, s.use_chat_template != 0);
        int max_pos = e->bundle.max_positions > 0 ? e->bundle.max_positions : 1 << 30;
        if (ids.empty()) throw std::runtime_error("the prompt is empty after tokenization");
        if (static_cast<int>(ids.size()) >= max_pos)
          throw std::runtime_error("the prompt has " + std::to_string(ids.size()) + " tokens; this bundle serves at most " +
                                   std::to_string(max_pos) + " (shorten it, or re-export with a larger --max-seq-len)");
        edgeslm::Sampler sampler({s.temperature, s.top_k, s.top_p, s.repetition_penalty}, s.seed);
        std::vector<int32_t> seen = ids, out;
        std::vector<int64_t> wide(ids.begin(), ids.end());
        e->model->reset();
        auto tp = std::chrono::steady_clock::now();
        const float *logits = e->model->step(wide.data(), wide.size());
        double prefill_ms = ms_since(tp);
        int budget = std::min(s.max_new_tokens, max_pos - static_cast<int>(ids.size()));
        edgeslm_stats st{static_cast<int>(ids.size()), 0, 0, prefill_ms, 0, 0};
        std::string shown;  // bytes already handed to the callback
        for (int step = 0; step < budget; ++step) {
          int32_t token = sampler.choose(logits, e->model->vocab_size(), seen);
          if (step == 0) st.ttft_ms = ms_since(t0);
          if (edgeslm_is_eos(e, token)) {
            st.stopped_at_eos = 1;
            break;
          }
          out.push_back(token);
          seen.push_back(token);
          st.generated_tokens++;
          std::string all = e->tokenizer->decode(out, true);
          std::string fresh;
          size_t complete = all.size() - edgeslm::utf8_incomplete_tail(all);
          if (complete > shown.size() && all.compare(0, shown.size(), shown) == 0) {
            fresh = all.substr(shown.size(), complete - shown.size());
            shown = all.substr(0, complete);
          }
          if (callback && callback(user, token, fresh.c_str()) != 0) break;
          if (step == budget - 1) break;
          auto td = std::chrono::steady_clock::now();
          logits = e->model->step(std::vector<int64_t>{token}.data(), 1);
          st.decode_ms_total += ms_since(td);
        }
        if (stats) *stats = st;
        return 0;
      },
      -1);
}
int edgeslm_benchmark(edgeslm_engine *e, const edgeslm_benchmark_settings *s, const char *output_path) {
  return guarded(
      [&]() -> int {
        // Tokenized as `Tokenizer.from_file(...).encode(text)` does in the Python worker (special tokens added).
        std::vector<int32_t> text_ids = e->tokenizer->encode(edgeslm::benchmark_text(), true);
        if (text_ids.empty()) throw std::runtime_error("the benchmark text tokenized to nothing");
        std::string json = edgeslm::run_benchmark(e, s, text_ids);
        std::ofstream out(output_path);
        out << json;
        out.close();
        if (!out) throw std::runtime_error(std::string("cannot write ") + output_path);
        return 0;
      },
      -1);
}
}  // extern "C"

