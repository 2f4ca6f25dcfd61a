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
#include "io/json.h"
#include "models/checkpoint.h"
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
    CHECK_THROWS_WITH_AS(train_with({"--test-on", "first"}), doctest::Contains("--test-on must be last or best, got 'first'"), Error);
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
    const std::string text = temp_path("text.txt");
    std::ofstream(text) << std::string(4096, 'a');
    CHECK_THROWS_WITH_AS(train_with({"--task", "text", "--data", text, "--test-on", "best", "--confirm-examples", "8"}),
                         doctest::Contains("--confirm-examples is for the tasks judged by their answers"), Error);
    fs::remove(text);

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
    CHECK_THROWS_WITH_AS(eval({"--run", "x", "--weights", "first"}), doctest::Contains("--weights must be latest or best"),
                         Error);
    for (const char* bad : {"13", "13-", "-21", "a-b", "13-21x"})
      CHECK_THROWS_WITH_AS(eval({"--run", "x", "--lengths", bad}), doctest::Contains("--lengths expects MIN-MAX"), Error);
    CHECK_THROWS_WITH_AS(experiment({"sorting"}), doctest::Contains("unknown task 'sorting'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"--steps", "3"}), doctest::Contains("name the task first"), Error);
    CHECK_THROWS_WITH_AS(experiment({"parity", "--rows", "transformer,lstm"}), doctest::Contains("unknown row 'lstm'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"parity", "--model", "transformer"}), doctest::Contains("set by the experiment"), Error);
    CHECK_THROWS_WITH_AS(experiment({"mqar", "--rows", "lstm"}), doctest::Contains("unknown row 'lstm'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"mqar", "--pairs", "4,x"}),
                         doctest::Contains("--pairs must be a comma-separated list of positive integers, got '4,x'"), Error);
    CHECK_THROWS_WITH_AS(experiment({"mqar", "--lengths", "128,0"}), doctest::Contains("--lengths must be"), Error);
    CHECK_THROWS_WITH_AS(experiment({"mqar", "--pairs", "64"}), doctest::Contains("--pairs 64 exceeds the 63 keys"), Error);
    CHECK_THROWS_WITH_AS(experiment({"mqar", "--pairs", "40", "--lengths", "128"}),
                         doctest::Contains("no cell of --pairs × --lengths has length >= 4 * pairs"), Error);
    CHECK_THROWS_WITH_AS(experiment({"text"}), doctest::Contains("experiment text needs the text: --data FILE"), Error);
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
    // A layer-wise hybrid from any named DeltaNet or HQLT model; a bad dict names its key.
    const models::ModelConfig layered =
        train::apply_overrides(base, {R"(attn={"layers": [1], "num_heads": 4, "window_size": 8})"});
    REQUIRE(layered.attn.has_value());
    CHECK(layered.attn->layers == std::vector<int64_t>{1});
    CHECK(layered.attn->window_size == 8);
    CHECK_THROWS_WITH_AS(train::apply_overrides(base, {R"(attn={"layers": [2], "num_heads": 4})"}),
                         doctest::Contains("--set: config: 'attn.layers' holds 2, outside the 2 layers"), Error);
    CHECK_THROWS_WITH_AS(train::apply_overrides(train::named_model_config("transformer", 3), {"attn={}"}),
                         doctest::Contains("unknown config key 'attn'"), Error);
  }

  TEST_CASE("--model delta_net_attn is delta_net with softmax attention in every second block") {
    const models::ModelConfig plain = train::named_model_config("delta_net", 3, train::ModelShape{16, 4, 2});
    const models::ModelConfig c = train::named_model_config("delta_net_attn", 3, train::ModelShape{16, 4, 2});
    REQUIRE(c.attn.has_value());
    CHECK(c.attn->layers == std::vector<int64_t>{1, 3});
    CHECK(c.attn->num_heads == 2);
    models::ModelConfig without = c;
    without.attn.reset();
    CHECK(models::config_to_json(without) == models::config_to_json(plain));  // nothing else differs
    CHECK_THROWS_WITH_AS(train::named_model_config("delta_net_attn", 3, train::ModelShape{16, 1, 2}),
                         doctest::Contains("needs at least 2 layers"), Error);
  }

  // Both grids end to end at a toy size: every row's files are written, and a second run
  // reads them back instead of training again.
  TEST_CASE("hqlt experiment mqar writes each run's grid and resumes from it") {
    const std::string out = temp_path("experiment-mqar");
    fs::remove_all(out);
    const Args args = {"mqar", "--out", out, "--rows", "delta_net", "--steps", "2", "--d-model", "16", "--heads", "2",
                       "--layers", "1", "--eval-interval", "0", "--test-examples", "8", "--grid-examples", "8",
                       "--pairs", "4,8", "--lengths", "16,32", "--threads", "1", "--log-interval", "1"};
    CHECK(experiment(args) == 0);
    const io::Json grid = io::read_json_file(out + "/delta_net/seed1/grid.json");
    CHECK(grid.at("cells").as_array().size() == 3);  // (4, 16), (4, 32), (8, 32): 8 pairs need 32 tokens
    for (const io::Json& c : grid.at("cells").as_array()) {
      CHECK(c.at("accuracy").as_double() >= 0);
      CHECK(c.at("accuracy").as_double() <= 1);
    }
    CHECK(fs::exists(out + "/results.md"));
    CHECK(fs::exists(out + "/accuracy_vs_pairs_T32.png"));
    const auto written = fs::last_write_time(out + "/delta_net/seed1/grid.json");
    CHECK(experiment(args) == 0);
    CHECK(fs::last_write_time(out + "/delta_net/seed1/grid.json") == written);
    fs::remove_all(out);
  }

  TEST_CASE("hqlt experiment parity gives the rows that cannot fit a quarter of the steps") {
    const std::string out = temp_path("experiment-parity-budget");
    auto option_of = [&](const std::string& row, const char* key) {
      return io::read_json_file(out + "/" + row + "/seed1/train_options.json").at(key).as_int();
    };
    auto steps_of = [&](const std::string& row) { return option_of(row, "steps"); };
    Args args = {"parity", "--out", out, "--rows", "transformer,sync_hqlt", "--seeds", "1", "--steps", "8",
                 "--warmup", "2", "--d-model", "16", "--heads", "2", "--layers", "1", "--eval-interval", "0",
                 "--test-examples", "8", "--threads", "1", "--log-interval", "1", "--batch-size", "4"};
    for (bool full : {false, true}) {
      CAPTURE(full);
      fs::remove_all(out);
      if (full) args.push_back("--full-budget");
      CHECK(experiment(args) == 0);
      CHECK(steps_of("transformer") == (full ? 8 : 2));
      CHECK(steps_of("sync_hqlt") == 8);
      // The short rows get one attempt; the others the recipe's fresh starts, which the toy
      // runs (far below 99.5%) use up: 10 attempts.
      CHECK(option_of("transformer", "restarts") == (full ? 9 : 0));
      CHECK(option_of("sync_hqlt", "restarts") == 9);
      CHECK(io::read_json_file(out + "/sync_hqlt/seed1/test.json").at("attempts").as_int() == 10);
      std::ifstream table_file(out + "/results.md");
      const std::string table((std::istreambuf_iterator<char>(table_file)), std::istreambuf_iterator<char>());
      CHECK(table.find("| steps | attempts (all seeds) |") != std::string::npos);
    }
    fs::remove_all(out);
  }

  TEST_CASE("hqlt experiment text matches parameter counts and writes the copy probe") {
    const std::string out = temp_path("experiment-text"), data = temp_path("text.txt");
    fs::remove_all(out);
    {
      std::ofstream f(data);
      for (int i = 0; i < 400; ++i) f << "line " << i << ": the quick brown fox jumps over the lazy dog.\n";
    }
    const Args args = {"text", "--data", data, "--out", out, "--rows", "transformer,sync_hqlt", "--steps", "2",
                       "--d-model", "32", "--heads", "2", "--layers", "1", "--seq-len", "128", "--batch-size", "2",
                       "--eval-interval", "1", "--eval-examples", "2", "--test-examples", "4", "--probe-examples", "4",
                       "--threads", "1"};
    CHECK(experiment(args) == 0);
    // Each run's own config, counted independently of the experiment's matching.
    const int64_t a = models::reference_num_parameters(models::read_config_file(out + "/transformer/seed1/config.json").config);
    const int64_t b = models::reference_num_parameters(models::read_config_file(out + "/sync_hqlt/seed1/config.json").config);
    CHECK(std::abs(double(a - b)) / double(b) < 0.01);
    const io::Json probe = io::read_json_file(out + "/sync_hqlt/seed1/probe.json");
    for (const char* key : {"control", "near_copy", "far_copy"}) CHECK(probe.at(key).as_double() > 0);
    CHECK(fs::exists(out + "/validation_curves.png"));
    fs::remove_all(out);
    fs::remove(data);
  }
}
