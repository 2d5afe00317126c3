#include "model.h"

#include <cstring>
#include <stdexcept>

namespace edgeslm {

DecoderModel::DecoderModel(const std::string &model_path, int threads) : env_(ORT_LOGGING_LEVEL_ERROR, "edgeslm") {
  Ort::SessionOptions opts;
  opts.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (threads > 0) {
    opts.SetIntraOpNumThreads(threads);
    opts.SetInterOpNumThreads(1);
  }
  session_ = Ort::Session(env_, model_path.c_str(), opts);
  Ort::AllocatorWithDefaultOptions alloc;
  std::vector<std::string> past;
  for (size_t i = 0; i < session_.GetInputCount(); ++i) {
    std::string name = session_.GetInputNameAllocated(i, alloc).get();
    input_names_.push_back(name);
    if (name.rfind("past_key_values.", 0) == 0 && kv_heads_ == 0) {
      auto shape = session_.GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape();
      if (shape.size() != 4) throw std::runtime_error("unexpected KV cache rank in " + name);
      kv_heads_ = shape[1];
      head_dim_ = shape[3];
    }
  }
  if (input_names_.size() < 3 || input_names_[0] != "input_ids" || input_names_[1] != "attention_mask")
    throw std::runtime_error("model.onnx does not have the inputs input_ids, attention_mask, past_key_values.* "
                             "(export it with `edgeslm export --format onnx`)");
  for (size_t i = 0; i < session_.GetOutputCount(); ++i)
    output_names_.push_back(session_.GetOutputNameAllocated(i, alloc).get());
  if (output_names_.empty() || output_names_[0] != "logits" || output_names_.size() != input_names_.size() - 1)
    throw std::runtime_error("model.onnx outputs are not logits + present.* matching its past inputs");
  if (kv_heads_ <= 0 || head_dim_ <= 0) throw std::runtime_error("model.onnx has a dynamic KV heads/head_dim");
  auto vshape = session_.GetOutputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  vocab_ = vshape.size() == 3 && vshape[2] > 0 ? static_cast<int>(vshape[2]) : 0;
  for (auto &n : input_names_) input_ptrs_.push_back(n.c_str());
  for (auto &n : output_names_) output_ptrs_.push_back(n.c_str());
  reset();
}

void DecoderModel::reset() {
  cache_.clear();
  const int64_t shape[4] = {1, kv_heads_, 0, head_dim_};
  for (size_t i = 2; i < input_names_.size(); ++i)
    cache_.push_back(Ort::Value::CreateTensor<float>(cpu_, nullptr, 0, shape, 4));
  length_ = 0;
}

const float *DecoderModel::step(const int64_t *ids, size_t count) {
  size_t total = length_ + count;
  mask_.assign(total, 1);
  const int64_t ids_shape[2] = {1, static_cast<int64_t>(count)};
  const int64_t mask_shape[2] = {1, static_cast<int64_t>(total)};
  std::vector<Ort::Value> inputs;
  inputs.reserve(input_names_.size());
  inputs.push_back(Ort::Value::CreateTensor<int64_t>(cpu_, const_cast<int64_t *>(ids), count, ids_shape, 2));
  inputs.push_back(Ort::Value::CreateTensor<int64_t>(cpu_, mask_.data(), total, mask_shape, 2));
  for (auto &v : cache_) inputs.push_back(std::move(v));
  auto outputs = session_.Run(Ort::RunOptions{nullptr}, input_ptrs_.data(), inputs.data(), inputs.size(),
                              output_ptrs_.data(), output_ptrs_.size());
  auto info = outputs[0].GetTensorTypeAndShapeInfo().GetShape();  // (1, count, vocab)
  int vocab = static_cast<int>(info[2]);
  vocab_ = vocab;
  const float *logits = outputs[0].GetTensorData<float>();
  last_logits_.assign(logits + (info[1] - 1) * vocab, logits + info[1] * vocab);
  cache_.clear();
  for (size_t i = 1; i < outputs.size(); ++i) cache_.push_back(std::move(outputs[i]));
  length_ = total;
  return last_logits_.data();
}
}  // namespace edgeslm
