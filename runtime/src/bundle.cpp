#include "bundle.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "sha256.h"

namespace edgeslm {
using nlohmann::json;

std::string read_text_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

static json read_json(const std::string &path, const char *what) {
  std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception &e) {
    throw std::runtime_error(std::string(what) + " " + path + " is not valid JSON: " + e.what());
  }
}

Bundle open_bundle_folder(const std::string &folder, bool verify_files) {
  Bundle b;
  b.folder = folder;
  std::ifstream probe(b.path("manifest.json"));
  if (!probe)
    throw std::runtime_error("no manifest.json in " + folder + ": pass the folder written by `edgeslm export -o`");
  json manifest = read_json(b.path("manifest.json"), "the manifest");
  b.format = manifest.value("format", "onnx");
  if (b.format != "onnx")
    throw std::runtime_error("this bundle's format is '" + b.format +
                             "': the native engine runs ONNX bundles (export with --format onnx)");
  b.model_file = "model.onnx";
  if (manifest.contains("io") && manifest["io"].is_object())
    b.model_file = manifest["io"].value("model_file", b.model_file);
  if (verify_files) {
    if (!manifest.contains("files") || !manifest["files"].is_array())
      throw std::runtime_error("the manifest of " + folder + " lists no files to verify");
    for (const auto &rec : manifest["files"]) {
      std::string name = rec.at("name").get<std::string>();
      std::string want = rec.at("sha256").get<std::string>();
      std::string got;
      try {
        got = sha256_file(b.path(name));
      } catch (const std::exception &) {
        throw std::runtime_error("bundle file " + name + " is missing: the bundle is incomplete (copy it again)");
      }
      if (got != want)
        throw std::runtime_error("bundle file " + name + " does not match the sha256 in manifest.json (" +
                                 got.substr(0, 12) + " vs " + want.substr(0, 12) +
                                 "): it was changed or copied incompletely; re-export or copy it again");
    }
  }
  json gen = read_json(b.path("generation.json"), "generation settings");
  if (gen.contains("eos_token_ids") && gen["eos_token_ids"].is_array())
    for (const auto &id : gen["eos_token_ids"]) b.eos_ids.push_back(id.get<int>());
  b.max_positions = gen.value("max_positions", 0);
  b.has_chat_template = gen.value("has_chat_template", false);
  return b;
}
}  // namespace edgeslm
