// edgeslm-runner: the command-line face of the native engine (include/edgeslm/engine.h).
//
//   benchmark (the runner contract of edgeslm/profile/android.py):
//     edgeslm-runner --bundle DIR --prompt-len N --gen-len N --runs N --warmup N --threads N --output FILE
//   generate:   edgeslm-runner --bundle DIR --prompt TEXT [--raw] [--max-new-tokens N] [--greedy | --temperature T
//               --top-k K --top-p P --repetition-penalty R --seed S] [--threads N] [--json]
//   logits:     edgeslm-runner --bundle DIR --prompt TEXT --max-new-tokens N --dump-logits FILE [--raw]
//               [--force-tokens 1,2,3]  (greedy, or the given tokens fed instead of the argmax (teacher forcing,
//               to compare two builds position by position); FILE gets the float32 logits of every step,
//               row-major steps x vocab; stdout a JSON line with the prompt's ids and the argmax of every step)
//   tokenize:   edgeslm-runner --tokenizer tokenizer.json --tokenize-lines FILE   (one JSON string per line in,
//               one JSON object per line out: "ids" (no special tokens), "special" (the post-processor's special
//               tokens added) and "text" (the ids decoded back); no model is loaded)
//   decode:     edgeslm-runner --tokenizer tokenizer.json --decode-lines FILE   (a JSON list of ids per line in, the
//               decoded text as a JSON string per line out)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgeslm/engine.h"
#include "tokenizer.h"

namespace {
const char *kUsage =
    "usage:\n"
    "  edgeslm-runner --bundle DIR --prompt-len N --gen-len N --runs N --warmup N --threads N --output FILE\n"
    "  edgeslm-runner --bundle DIR --prompt TEXT [--raw] [--max-new-tokens N] [--greedy | --temperature T\n"
    "                 [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S]] [--threads N] [--json]\n"
    "  edgeslm-runner --bundle DIR --prompt TEXT --max-new-tokens N --dump-logits FILE [--raw] [--threads N]\n"
    "  edgeslm-runner --tokenizer tokenizer.json --tokenize-lines FILE | --decode-lines FILE\n";

const char *kFlags[] = {"--raw", "--greedy", "--json", "--no-verify", "--help"};

int fail(const std::string &msg, int code = 1) {
  std::fprintf(stderr, "edgeslm-runner: %s\n", msg.c_str());
  return code;
}

struct Args {
  std::map<std::string, std::string> v;
  bool has(const std::string &k) const { return v.count(k) != 0; }
  std::string str(const std::string &k, const std::string &d = "") const { return has(k) ? v.at(k) : d; }
  long num(const std::string &k, long d) const { return has(k) ? std::stol(v.at(k)) : d; }
  double real(const std::string &k, double d) const { return has(k) ? std::stod(v.at(k)) : d; }
};

int tokenize_lines(const Args &a) {
  edgeslm::Tokenizer tok(a.str("--tokenizer"));
  std::ifstream in(a.str("--tokenize-lines"));
  if (!in) return fail("cannot read " + a.str("--tokenize-lines"), 2);
  std::string line;
  while (std::getline(in, line)) {
    std::string text = nlohmann::json::parse(line).get<std::string>();
    auto ids = tok.encode(text, false);
    nlohmann::json row = {{"ids", ids}, {"special", tok.encode(text, true)}, {"text", tok.decode(ids, false)}};
    std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

int decode_lines(const Args &a) {
  edgeslm::Tokenizer tok(a.str("--tokenizer"));
  std::ifstream in(a.str("--decode-lines"));
  if (!in) return fail("cannot read " + a.str("--decode-lines"), 2);
  std::string line;
  while (std::getline(in, line)) {
    auto ids = nlohmann::json::parse(line).get<std::vector<int32_t>>();
    std::cout << nlohmann::json(tok.decode(ids, false)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  }
  return 0;
}

int stream_token(void *, int32_t, const char *text) {
  std::fputs(text, stdout);
  std::fflush(stdout);
  return 0;
}

struct Collected {
  std::vector<int32_t> tokens;
};

int collect_token(void *user, int32_t token, const char *) {
  static_cast<Collected *>(user)->tokens.push_back(token);
  return 0;
}
}  // namespace

int main(int argc, char **argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    bool flag = false;
    for (const char *f : kFlags) flag = flag || k == f;
    if (flag) a.v[k] = "1";
    else if (k.rfind("--", 0) == 0 && i + 1 < argc) a.v[k] = argv[++i];
    else return fail("unexpected argument '" + k + "'\n" + kUsage, 2);
  }
  if (a.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    if (a.has("--tokenize-lines")) return tokenize_lines(a);
    if (a.has("--decode-lines")) return decode_lines(a);
    if (!a.has("--bundle")) return fail(std::string("--bundle DIR is required\n") + kUsage, 2);
    edgeslm_open_options o = edgeslm_default_open_options();
    o.threads = static_cast<int>(a.num("--threads", 0));
    o.verify_files = a.has("--no-verify") ? 0 : 1;
    auto t0 = std::chrono::steady_clock::now();
    edgeslm_engine *e = edgeslm_open(a.str("--bundle").c_str(), &o);
    if (!e) return fail(edgeslm_last_error());
    double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    int rc = 0;
    if (a.has("--output")) {  // benchmark mode
      for (const char *k : {"--prompt-len", "--gen-len", "--runs", "--warmup"})
        if (!a.has(k)) return fail(std::string("benchmark mode needs ") + k + "\n" + kUsage, 2);
      edgeslm_benchmark_settings s{static_cast<int>(a.num("--prompt-len", 0)), static_cast<int>(a.num("--gen-len", 0)),
                                   static_cast<int>(a.num("--runs", 0)), static_cast<int>(a.num("--warmup", 0)),
                                   o.threads, load_ms};
      if (edgeslm_benchmark(e, &s, a.str("--output").c_str()) != 0) rc = fail(edgeslm_last_error());
    } else if (a.has("--prompt")) {
      edgeslm_sampling s = edgeslm_default_sampling();
      s.max_new_tokens = static_cast<int>(a.num("--max-new-tokens", 128));
      s.use_chat_template = a.has("--raw") ? 0 : 1;
      if (!a.has("--greedy")) {
        s.temperature = static_cast<float>(a.real("--temperature", 0.0));
        s.top_k = static_cast<int>(a.num("--top-k", 0));
        s.top_p = static_cast<float>(a.real("--top-p", 1.0));
        s.repetition_penalty = static_cast<float>(a.real("--repetition-penalty", 1.0));
        s.seed = static_cast<uint64_t>(a.num("--seed", 0));
      }
      if (a.has("--dump-logits")) {
        // Greedy through the low-level calls, keeping every step's logits for an arm64-vs-x86 comparison.
        std::string text = a.str("--prompt");
        std::vector<int32_t> ids(4096);
        int n = edgeslm_prompt_ids(e, text.c_str(), s.use_chat_template, ids.data(), static_cast<int>(ids.size()));
        if (n <= 0 || n > static_cast<int>(ids.size())) return fail("cannot tokenize the prompt");
        ids.resize(n);
        std::ofstream out(a.str("--dump-logits"), std::ios::binary);
        const float *logits = edgeslm_prefill(e, ids.data(), n);
        int vocab = edgeslm_vocab_size(e);
        nlohmann::json tokens = nlohmann::json::array();
        std::vector<int32_t> forced;
        std::string list = a.str("--force-tokens");
        for (size_t at = 0; at < list.size();) {
          size_t comma = list.find(',', at);
          forced.push_back(std::stoi(list.substr(at, comma - at)));
          at = comma == std::string::npos ? list.size() : comma + 1;
        }
        if (!forced.empty()) s.max_new_tokens = static_cast<int>(forced.size());
        for (int step = 0; logits && step < s.max_new_tokens; ++step) {
          out.write(reinterpret_cast<const char *>(logits), sizeof(float) * vocab);
          int32_t token = static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
          tokens.push_back(token);
          if (step + 1 < s.max_new_tokens) logits = edgeslm_decode(e, forced.empty() ? token : forced[step]);
        }
        if (!logits) rc = fail(edgeslm_last_error());
        std::cout << nlohmann::json({{"prompt_tokens", n}, {"prompt_ids", ids}, {"vocab", vocab}, {"tokens", tokens}}).dump()
                  << "\n";
      } else {
        edgeslm_stats st{};
        Collected got;
        bool as_json = a.has("--json");
        int r = edgeslm_generate(e, a.str("--prompt").c_str(), &s, as_json ? collect_token : stream_token, &got, &st);
        if (r != 0) {
          rc = fail(edgeslm_last_error());
        } else if (as_json) {
          std::vector<char> text(1 << 20);
          edgeslm_detokenize(e, got.tokens.data(), static_cast<int>(got.tokens.size()), text.data(),
                             static_cast<int>(text.size()));
          std::cout << nlohmann::json({{"tokens", got.tokens}, {"text", std::string(text.data())},
                                       {"prompt_tokens", st.prompt_tokens}, {"stopped_at_eos", st.stopped_at_eos != 0},
                                       {"ttft_ms", st.ttft_ms}, {"prefill_ms", st.prefill_ms},
                                       {"decode_ms_total", st.decode_ms_total}})
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    << "\n";
        } else {
          std::fprintf(stderr, "\n[%d tokens%s; TTFT %.1f ms]\n", st.generated_tokens,
                       st.stopped_at_eos ? ", stopped at EOS" : "", st.ttft_ms);
        }
      }
    } else {
      rc = fail(std::string("nothing to do: pass --output (benchmark) or --prompt (generate)\n") + kUsage, 2);
    }
    edgeslm_close(e);
    return rc;
  } catch (const std::exception &ex) {
    return fail(ex.what());
  }
}
