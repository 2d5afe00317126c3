// SHA-256 of a file (FIPS 180-4), for the bundle integrity check: the NDK has no crypto library to call.
#pragma once
#include <string>

namespace edgeslm {
// Lower-case hex digest of the file's bytes; throws std::runtime_error when it cannot be read.
std::string sha256_file(const std::string &path);
}  // namespace edgeslm
