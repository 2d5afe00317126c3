// A bundle folder as the engine needs it: manifest (format, files + sha256), generation.json, file paths.
#pragma once
#include <string>
#include <vector>

namespace edgeslm {

struct Bundle {
  std::string folder;
  std::string format;          // manifest["format"]; only "onnx" runs here
  std::string model_file;      // manifest["io"]["model_file"] or model.onnx
  std::vector<int> eos_ids;    // generation.json
  int max_positions = 0;       // generation.json
  bool has_chat_template = false;
  std::string path(const std::string &name) const { return folder + "/" + name; }
};

// Reads manifest.json and generation.json; with verify_files, every file the manifest lists must exist and match
// its sha256. Throws std::runtime_error with a message that says what to do.
Bundle open_bundle_folder(const std::string &folder, bool verify_files);

std::string read_text_file(const std::string &path);
}  // namespace edgeslm
