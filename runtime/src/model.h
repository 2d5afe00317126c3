// The bundle's decoder graph in an ONNX Runtime session, with its KV cache kept between calls (batch 1).
// Inputs: input_ids, attention_mask, past_key_values.<i>.key|value (batch, kv_heads, past, head_dim);
// outputs: logits, present.<i>.key|value -- the layout edgeslm/backends/onnx/lower.py writes.
#pragma once
#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace edgeslm {

class DecoderModel {
 public:
  DecoderModel(const std::string &model_path, int threads);
  void reset();
  // Runs `count` tokens after the cache; returns the logits of the last position (vocab floats).
  const float *step(const int64_t *ids, size_t count);
  int vocab_size() const { return vocab_; }
  int length() const { return static_cast<int>(length_); }

 private:
  Ort::Env env_;
  Ort::Session session_{nullptr};
  Ort::MemoryInfo cpu_ = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<std::string> input_names_, output_names_;
  std::vector<const char *> input_ptrs_, output_ptrs_;
  std::vector<Ort::Value> cache_;  // past for the next call, in past_key_values order
  std::vector<float> last_logits_;
  std::vector<int64_t> mask_;
  int64_t kv_heads_ = 0, head_dim_ = 0;
  int vocab_ = 0;
  size_t length_ = 0;
};
}  // namespace edgeslm
