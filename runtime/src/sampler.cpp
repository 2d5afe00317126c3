#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace edgeslm {

int32_t argmax(const float *logits, int vocab) {
  return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);  // first maximum, like numpy
}

int32_t Sampler::choose(const float *logits, int vocab, const std::vector<int32_t> &seen) {
  work_.assign(logits, logits + vocab);
  if (s_.repetition_penalty != 1.f)
    for (int32_t id : seen)
      if (id >= 0 && id < vocab) {
        float &v = work_[id];
        v = v < 0 ? v * s_.repetition_penalty : v / s_.repetition_penalty;
      }
  if (s_.temperature <= 0.f) return argmax(work_.data(), vocab);
  for (float &v : work_) v /= s_.temperature;
  order_.resize(vocab);
  std::iota(order_.begin(), order_.end(), 0);
  int keep = (s_.top_k > 0 && s_.top_k < vocab) ? s_.top_k : vocab;
  std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(),
                    [&](int32_t a, int32_t b) { return work_[a] > work_[b]; });
  order_.resize(keep);
  float top = work_[order_[0]];
  std::vector<double> p(keep);
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += p[i] = std::exp(double(work_[order_[i]] - top));
  for (double &x : p) x /= sum;
  if (s_.top_p < 1.f) {  // smallest prefix whose mass reaches top_p (at least one token)
    double mass = 0;
    int n = 0;
    while (n < keep && (n == 0 || mass < s_.top_p)) mass += p[n++];
    p.resize(n);
    order_.resize(n);
  }
  std::discrete_distribution<int> pick(p.begin(), p.end());
  return order_[pick(rng_)];
}
}  // namespace edgeslm
