// The layers include only the layers below them:
//
//   engine (with engine/cuda)  <  io, ops  <  nn  <  models  <  train  <  cli
//
// io (JSON, safetensors, atomic files) and ops both stand on the engine alone and do not
// include each other; nn and everything above may include both.
//
// Every `#include "..."` of every source file (.h .cpp .cu .cuh) under a layer folder is
// read, and an include of a layer above the file's own fails the test, naming the file and
// the include. The GPU machinery in engine/cuda/ is the engine's device half: above the
// engine only the kernels (ops/, and .cu/.cuh files) include it; the rest asks
// engine/device.h. The rule itself is checked on made-up pairs first, so a broken scanner
// cannot pass by finding nothing wrong.
#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 7> kLayers = {"engine", "io", "ops", "nn", "models", "train", "cli"};
constexpr std::string_view kGpuMachinery = "engine/cuda/";

// The layer of a path from the repository root ("ops/norm/norm.h" -> 2, the index in
// kLayers); -1 when its first folder is not a layer. A layer may include the layers
// before it in kLayers, except that io and ops are side by side.
int layer_of(std::string_view path) {
  const std::string_view top = path.substr(0, path.find('/'));
  if (top.size() == path.size()) return -1;  // no folder at all
  for (size_t i = 0; i < kLayers.size(); ++i)
    if (kLayers[i] == top) return int(i);
  return -1;
}

bool may_include(int from, int to) {
  const auto is = [](int layer, std::string_view name) { return kLayers[size_t(layer)] == name; };
  if ((is(from, "io") && is(to, "ops")) || (is(from, "ops") && is(to, "io"))) return false;
  return to <= from;
}

bool is_kernel_file(std::string_view path) { return path.ends_with(".cu") || path.ends_with(".cuh"); }

// What is wrong with `file` including `included` (both paths from the repository root);
// empty when nothing is.
std::string include_problem(const std::string& file, const std::string& included) {
  const int from = layer_of(file), to = layer_of(included);
  const std::string where = file + ": #include \"" + included + "\"";
  if (from < 0) return where + ": the including file is not under a layer folder";
  if (to < 0) return where + ": not a path under a layer folder (" + std::string(kLayers[0]) + ", ...)";
  if (!may_include(from, to))
    return where + ": " + std::string(kLayers[size_t(from)]) + " includes " + std::string(kLayers[size_t(to)]) +
           (to > from ? ", a layer above it" : ", a layer beside it");
  const bool kernel_side = kLayers[size_t(from)] == "engine" || kLayers[size_t(from)] == "ops" || is_kernel_file(file);
  if (included.starts_with(kGpuMachinery) && !kernel_side)
    return where + ": the GPU machinery is for the engine and the kernels; ask engine/device.h";
  return {};
}

// The paths of the quoted includes of a source text, in order (commented-out lines and
// <system> includes are not includes of ours).
std::vector<std::string> quoted_includes(const std::string& text) {
  static const std::regex include_line(R"(^\s*#\s*include\s*"([^"]+)\")");
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line))
    if (std::regex_search(line, m, include_line)) out.push_back(m[1]);
  return out;
}

bool is_source(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".h" || ext == ".cpp" || ext == ".cu" || ext == ".cuh";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("the layer rule refuses made-up includes of a layer above") {
    CHECK(layer_of("engine/cuda/runtime.h") == 0);
    CHECK(layer_of("io/json.h") == 1);
    CHECK(layer_of("cli/main.cpp") == 6);
    CHECK(layer_of("tests/main.cpp") == -1);
    CHECK(layer_of("engine") == -1);

    // Allowed: the same layer, the layers below, the kernels reaching the GPU machinery.
    CHECK(include_problem("cli/main.cpp", "cli/commands.h").empty());
    CHECK(include_problem("train/trainer.cpp", "nn/clip.h").empty());
    CHECK(include_problem("nn/clip.cpp", "ops/reduce/reduce_cuda.h").empty());
    CHECK(include_problem("models/checkpoint.cpp", "io/safetensors.h").empty());
    CHECK(include_problem("io/json.cpp", "engine/error.h").empty());
    CHECK(include_problem("ops/reduce/reduce.cu", "engine/cuda/check.h").empty());
    CHECK(include_problem("nn/optim_cuda.cu", "engine/cuda/strided.h").empty());
    CHECK(include_problem("engine/tensor.cpp", "engine/cuda/copy.h").empty());

    // Refused, each with the file and the include named.
    const std::string up = include_problem("engine/cuda/optim.h", "nn/adamw_math.h");
    CHECK(up.find("engine/cuda/optim.h") != std::string::npos);
    CHECK(up.find("nn/adamw_math.h") != std::string::npos);
    CHECK(up.find("a layer above") != std::string::npos);
    CHECK_FALSE(include_problem("ops/norm/norm.cpp", "nn/module.h").empty());
    CHECK_FALSE(include_problem("io/safetensors.h", "nn/module.h").empty());
    CHECK(include_problem("ops/op_utils.cpp", "io/json.h").find("a layer beside it") != std::string::npos);
    CHECK_FALSE(include_problem("io/json.cpp", "ops/reduce/reduce.h").empty());
    CHECK(include_problem("nn/module.cpp", "io/json.h").empty());
    CHECK_FALSE(include_problem("train/trainer.cpp", "cli/commands.h").empty());
    CHECK_FALSE(include_problem("models/causal_lm.cpp", "train/trainer.h").empty());
    CHECK(include_problem("train/device_option.cpp", "engine/cuda/runtime.h").find("GPU machinery") !=
          std::string::npos);
    CHECK_FALSE(include_problem("cli/bench_train_command.cpp", "engine/cuda/blas.h").empty());
    CHECK_FALSE(include_problem("models/x.h", "gradcheck.h").empty());  // not a layer path
    CHECK_FALSE(include_problem("tests/x.cpp", "engine/tensor.h").empty());
    CHECK_FALSE(include_problem("io/json.cpp", "engine/cuda/runtime.h").empty());

    // The scanner: quoted includes in order, with odd spacing; no system or commented-out ones.
    const std::string text =
        "#pragma once\n"
        "#include <vector>\n"
        "#include \"engine/tensor.h\"  // Tensor\n"
        "  #  include \"ops/norm/norm.h\"\n"
        "// #include \"cli/commands.h\"\n"
        "#ifdef HQLT_HAS_CUDA\n"
        "#include \"engine/cuda/runtime.h\"\n"
        "#endif\n";
    const std::vector<std::string> expected = {"engine/tensor.h", "ops/norm/norm.h", "engine/cuda/runtime.h"};
    CHECK(quoted_includes(text) == expected);
  }

  TEST_CASE("every source file includes only its own layer and the layers below") {
    const fs::path root = HQLT_SOURCE_DIR;
    std::vector<std::string> problems;
    size_t files = 0, includes = 0;
    for (std::string_view layer : kLayers) {
      const fs::path dir = root / layer;
      REQUIRE_MESSAGE(fs::is_directory(dir), "no layer folder ", dir.string());
      size_t in_layer = 0;
      for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file() || !is_source(e.path())) continue;
        const std::string file = fs::relative(e.path(), root).generic_string();
        ++files, ++in_layer;
        for (const std::string& included : quoted_includes(read_text(e.path()))) {
          ++includes;
          std::string problem = include_problem(file, included);
          if (problem.empty() && !fs::exists(root / included))
            problem = file + ": #include \"" + included + "\": no such file under the repository root";
          if (!problem.empty()) problems.push_back(problem);
        }
      }
      CHECK_MESSAGE(in_layer > 0, "no source files under ", dir.string());
    }
    // The repository has hundreds of files and includes; finding a handful means the walk broke.
    CHECK(files > 100);
    CHECK(includes > 300);
    std::string report;
    for (const std::string& p : problems) report += "\n  " + p;
    CHECK_MESSAGE(problems.empty(), problems.size(), " include(s) break the layering:", report);
  }
}
