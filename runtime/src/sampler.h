// Next-token choice from logits: greedy, or repetition penalty -> temperature -> top-k -> top-p -> sample
// (the order of Hugging Face's generate logits processors).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace edgeslm {

struct SamplingSettings {
  float temperature = 0.f;  // <= 0: greedy
  int top_k = 0;
  float top_p = 1.f;
  float repetition_penalty = 1.f;
};

class Sampler {
 public:
  Sampler(const SamplingSettings &s, uint64_t seed) : s_(s), rng_(seed) {}
  // `seen`: prompt and generated ids so far (for the repetition penalty).
  int32_t choose(const float *logits, int vocab, const std::vector<int32_t> &seen);

 private:
  SamplingSettings s_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
};

int32_t argmax(const float *logits, int vocab);
}  // namespace edgeslm
