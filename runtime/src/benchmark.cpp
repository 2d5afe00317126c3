// edgeslm_benchmark: the timed loop of edgeslm/profile/worker.py (prefill, argmax, gen_len single-token decodes),
// natively, written as the device metrics JSON (edgeslm/profile/metrics_schema.py, version 1).
#include <chrono>
#include <string>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "benchmark.h"
#include "device_info.h"
#include "edgeslm/engine.h"
#include "sampler.h"

namespace {
// The same fixed clinical text as edgeslm/profile/worker.py's prompt_tokens, so host and device prompts agree.
const char *kBenchmarkText =
    "A 58-year-old woman with type 2 diabetes and hypertension presents with three days of fever, "
    "productive cough and shortness of breath. Examination shows crackles at the right base. ";

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

namespace edgeslm {
const char *benchmark_text() { return kBenchmarkText; }

// Throws std::runtime_error; `text_ids`: benchmark_text() tokenized with the bundle's tokenizer.
std::string run_benchmark(edgeslm_engine *e, const edgeslm_benchmark_settings *s, const std::vector<int32_t> &text_ids) {
  using nlohmann::json;
  if (s->prompt_len < 1 || s->gen_len < 1 || s->runs < 1 || s->warmup < 0)
    throw std::runtime_error("prompt_len, gen_len and runs must be >= 1, warmup >= 0");
  if (s->prompt_len + s->gen_len >= edgeslm_max_positions(e) && edgeslm_max_positions(e) > 0)
    throw std::runtime_error("prompt_len + gen_len must stay below the bundle's max_positions (" +
                             std::to_string(edgeslm_max_positions(e)) + ")");
  std::vector<int32_t> prompt;
  while (static_cast<int>(prompt.size()) < s->prompt_len)
    prompt.insert(prompt.end(), text_ids.begin(), text_ids.end());
  prompt.resize(s->prompt_len);
  int vocab = 0;
  json runs = json::array();
  for (int index = 0; index < s->warmup + s->runs; ++index) {
    double start_unix = edgeslm::unix_seconds(), start_boot = edgeslm::boottime_seconds();
    auto t0 = std::chrono::steady_clock::now();
    const float *logits = edgeslm_prefill(e, prompt.data(), static_cast<int>(prompt.size()));
    auto t1 = std::chrono::steady_clock::now();
    if (!logits) throw std::runtime_error(edgeslm_last_error());
    vocab = edgeslm_vocab_size(e);
    int32_t token = edgeslm::argmax(logits, vocab);
    auto t2 = std::chrono::steady_clock::now();
    std::vector<double> decode_ms;
    for (int i = 0; i < s->gen_len; ++i) {
      auto a = std::chrono::steady_clock::now();
      logits = edgeslm_decode(e, token);
      if (!logits) throw std::runtime_error(edgeslm_last_error());
      token = edgeslm::argmax(logits, vocab);
      decode_ms.push_back(ms_between(a, std::chrono::steady_clock::now()));
    }
    double end_unix = edgeslm::unix_seconds(), end_boot = edgeslm::boottime_seconds();
    if (index < s->warmup) continue;
    double prefill_ms = ms_between(t0, t1), ttft_ms = ms_between(t0, t2), total = 0;
    for (double d : decode_ms) total += d;
    json run = {{"start_unix_s", start_unix}, {"end_unix_s", end_unix}, {"ttft_ms", ttft_ms},
                {"prefill_ms", prefill_ms}, {"prefill_tok_per_s", s->prompt_len / (prefill_ms / 1000.0)},
                {"decode_tok_per_s", decode_ms.size() / (total / 1000.0)}, {"decode_ms", decode_ms}};
    if (start_boot > 0 && end_boot > start_boot) {
      run["start_boottime_s"] = start_boot;
      run["end_boottime_s"] = end_boot;
    }
    runs.push_back(run);
  }
  edgeslm::DeviceInfo d = edgeslm::device_info();
  json metrics = {
      {"schema", "edgeslm-device-metrics"},
      {"schema_version", 1},
      {"device", {{"model", d.model}, {"soc", d.soc}, {"os", d.os}, {"os_version", d.os_version}, {"abi", d.abi}}},
      {"runtime", {{"name", "onnxruntime"}, {"version", edgeslm_runtime_version()}}},
      {"settings", {{"prompt_len", s->prompt_len}, {"gen_len", s->gen_len}, {"runs", s->runs},
                    {"warmup", s->warmup}, {"threads", s->threads}}},
      {"load_ms", s->load_ms},
      {"peak_rss_mb", edgeslm::peak_rss_mb()},
      {"runs", runs}};
  return metrics.dump(2) + "\n";
}
}  // namespace edgeslm
