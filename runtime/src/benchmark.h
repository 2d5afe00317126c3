// The benchmark loop behind edgeslm_benchmark (engine.h): metrics JSON text, or std::runtime_error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "edgeslm/engine.h"

namespace edgeslm {
const char *benchmark_text();
std::string run_benchmark(edgeslm_engine *e, const edgeslm_benchmark_settings *s, const std::vector<int32_t> &text_ids);
}  // namespace edgeslm
