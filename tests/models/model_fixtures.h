#pragma once
// Shared by the config, checkpoint and logits tests: where the shipped configs are, a tiny
// model with the shape of each (same family, variant, mixing and options; few layers, small
// width and vocabulary), and a temporary folder per test case.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/config_json.h"

namespace hqlt::testing {

namespace fs = std::filesystem;

// models/configs/ of this source tree (this file is tests/models/model_fixtures.h).
inline fs::path shipped_configs_dir() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "models" / "configs";
}

// The shipped config files, sorted by name (without ".json").
inline std::vector<std::string> shipped_config_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(shipped_configs_dir()))
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline io::Json shipped_config_json(const std::string& name) {
  return io::read_json_file((shipped_configs_dir() / (name + ".json")).string());
}

// The shipped config scaled down: 2 layers, hidden 32, vocabulary 50, head dims 16
// (8 for the transformer), chunk_size / 8 (64..1024 -> 8..128, the range the fused
// Delayed-Chunk op takes) — everything else as shipped.
inline models::ModelConfig tiny_config(const std::string& name) {
  io::Json j = shipped_config_json(name);
  const bool transformer = j.at("model_type").as_string() == "transformer";
  j.set("num_hidden_layers", 2);
  j.set("hidden_size", 32);
  j.set("num_heads", transformer ? 4 : 2);
  j.set("vocab_size", 50);
  if (j.contains("chunk_size")) j.set("chunk_size", std::max<int64_t>(8, j.at("chunk_size").as_int() / 8));
  return models::config_from_json(j).config;
}

// A fresh folder for one test case, removed at the end. In memory (/dev/shm) where there
// is one: checkpoints are written with fsync, which costs real time on a busy disk.
inline fs::path fast_temp_root() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fast_temp_root() / ("hqlt_ckpt_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace hqlt::testing
