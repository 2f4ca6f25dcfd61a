// `hqlt train`, `hqlt eval` and `hqlt experiment` refuse bad input with one clear error that
// names the problem, before anything is written.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "engine/device.h"
#include "engine/error.h"
#include "models/config_json.h"
#include "train/model_names.h"

using namespace hqlt;
using namespace hqlt::cli;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("hqlt-test-train-cli-" + name + "-" + std::to_string(::getpid()))).string();
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("hqlt train refuses unknown names and bad values and bad data and writes nothing") {
    const std::string run = temp_path("never-written");
    fs::remove_all(run);
    auto train_with = [&](Args extra) {
      Args args{"--run-dir", run};
      args.insert(args.end(), extra.begin(), extra.end());
      return cli::train(args);
    };
    CHECK_THROWS_WITH_AS(train_with({"--task", "sorting"}), doctest::Contains("unknown task 'sorting'; known tasks: parity"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--model", "mamba"}), doctest::Contains("unknown model 'mamba'; known models: transformer"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--bogus"}), "train: unknown option '--bogus' (see hqlt train --help)", Error);
    CHECK_THROWS_WITH_AS(train_with({"--steps", "0"}), doctest::Contains("--steps expects a positive integer"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--lr", "-1"}), doctest::Contains("--lr expects a positive number"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--steps", "10", "--warmup", "20"}), doctest::Contains("must not exceed --steps"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--steps", "10", "--curriculum", "20"}),
                         doctest::Contains("--curriculum (20) must not exceed --steps (10)"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--curriculum", "-1"}), doctest::Contains("--curriculum"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--final-lr-factor", "2"}), doctest::Contains("--final-lr-factor must be in [0, 1]"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--schedule", "step"}), doctest::Contains("--schedule must be cosine, linear or constant"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--device", "tpu"}), doctest::Contains("--device must be cpu or cuda"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--set", "chunk_size"}), doctest::Contains("--set expects key=value"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--set", "windowz=3"}), doctest::Contains("unknown config key 'windowz'"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--set", "attn_mode=sideways"}), doctest::Contains("attn_mode"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--heads", "5"}), doctest::Contains("num_heads"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--task", "text"}), doctest::Contains("needs a data file: --data PATH"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--task", "text", "--data", temp_path("missing.txt")}),
                         doctest::Contains("missing.txt"), Error);
    const std::string empty = temp_path("empty.txt");
    std::ofstream(empty).close();
    CHECK_THROWS_WITH_AS(train_with({"--task", "text", "--data", empty}), doctest::Contains("empty"), Error);
    CHECK_THROWS_WITH_AS(train_with({"--task", "tokens", "--data", empty}), doctest::Contains("vocabulary size"), Error);
    fs::remove(empty);

    // A reference config whose vocabulary does not match the task's.
    const std::string config = temp_path("config-vocab-10.json");
    models::write_config_file(config, train::named_model_config("delta_net", 10));
    CHECK_THROWS_WITH_AS(train_with({"--task", "parity", "--model-config", config}),
                         doctest::Contains("vocab mismatch: the model has vocab_size 10 but task 'parity' has 3"), Error);
    fs::remove(config);
    CHECK_FALSE(fs::exists(run));
  }

  TEST_CASE("hqlt train --resume takes only the flags that do not change the run") {
    CHECK_THROWS_WITH_AS(cli::train({"--resume", temp_path("nowhere")}), doctest::Contains("is not a training run"), Error);
    CHECK_THROWS_WITH_AS(cli::train({"--resume", temp_path("nowhere"), "--lr", "0.1"}),
                         doctest::Contains("only --threads, --device, --stop-at and --quiet"), Error);
    CHECK_THROWS_WITH_AS(cli::train({"--resume", "a", "--run-dir", "b"}), doctest::Contains("not both"), Error);
    CHECK_THROWS_WITH_AS(cli::train({"--resume", temp_path("nowhere"), "--device", "tpu"}),
                         doctest::Contains("train: option --device expects cpu or cuda, got 'tpu'"), Error);
  }

  TEST_CASE("hqlt eval and hqlt experiment refuse bad input") {
    CHECK_THROWS_WITH_AS(eval({}), doctest::Contains("--run DIR is required"), Error);
    CHECK_THROWS_WITH_AS(eval({"--run", temp_path("nowhere")}), doctest::Contains("is not a training run"), Error);
    CHECK_THROWS_WITH_AS(eval({"--run", "x", "--split", "train"}), doctest::Contains("--split must be test or validation"), Error);
    CHECK_THROWS_WITH_AS(experiment({"sorting"}), doctest::Contains("unknown task 'sorting'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"--steps", "3"}), doctest::Contains("name the task first"), Error);
    CHECK_THROWS_WITH_AS(experiment({"parity", "--rows", "transformer,lstm"}), doctest::Contains("unknown row 'lstm'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"parity", "--model", "transformer"}), doctest::Contains("set by the experiment"), Error);
    CHECK_THROWS_WITH_AS(eval({"--run", "x", "--device", "tpu"}), doctest::Contains("eval: option --device expects cpu or cuda, got 'tpu'"),
                         Error);
  }

  TEST_CASE("--device cuda without a usable GPU is refused before anything is written") {
#ifdef HQLT_HAS_CUDA
    if (cuda_available()) return;  // a GPU machine runs these (tests/cuda/test_train_cuda.cpp)
    const char* why = "no CUDA GPU is available";
#else
    const char* why = "built without CUDA";
#endif
    const std::string run = temp_path("cuda-never-written");
    fs::remove_all(run);
    CHECK_THROWS_WITH_AS(cli::train({"--device", "cuda", "--run-dir", run}), doctest::Contains(why), Error);
    CHECK_FALSE(fs::exists(run));
    CHECK_THROWS_WITH_AS(eval({"--run", run, "--device", "cuda"}), doctest::Contains(why), Error);
  }

  TEST_CASE("--set changes config keys with JSON values or bare words") {
    const models::ModelConfig base = train::named_model_config("delayed_chunk_hqlt", 3);
    CHECK(base.chunk_size == 16);
    CHECK(base.fw_block == models::FwBlock::reference_64);
    const models::ModelConfig c =
        train::apply_overrides(base, {"hqlt_fw_block=chunk_size", "chunk_size=32", "use_gate=false", "norm_eps=1e-5"});
    CHECK(c.fw_block == models::FwBlock::chunk_size);
    CHECK(c.chunk_size == 32);
    CHECK_FALSE(c.use_gate);
    CHECK(c.norm_eps == 1e-5);
    CHECK_THROWS_WITH_AS(train::apply_overrides(base, {"model_type=transformer"}), doctest::Contains("cannot change model_type"), Error);
  }
}
