// hqlt bench train refuses bad invocations with one clear error that names the option and
// lists what it accepts, before it builds any model; with --config it times the model of a
// config file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "engine/error.h"

using namespace hqlt;
using namespace hqlt::cli;

TEST_SUITE("unit") {
  TEST_CASE("bench train refuses bad options by name") {
    CHECK_THROWS_WITH_AS(bench_train({"--preset", "lm-small"}),
                         "bench train: missing --model NAME (see hqlt bench train --help)", Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "transformer"}),
                         doctest::Contains("missing --preset parity-small|lm-small"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "transformer", "--preset", "huge"}),
                         "bench train: unknown preset 'huge' (known: parity-small, lm-small)", Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "gpt", "--preset", "parity-small"}),
                         "bench train: --model: unknown model 'gpt'; known models: transformer, delta_net, "
                         "sync_hqlt, delayed_stream_hqlt, delayed_chunk_hqlt, sync_linear_hqlt, delta_net_attn",
                         Error);
    CHECK_THROWS_WITH_AS(bench_train({"--threads", "0"}), doctest::Contains("--threads"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--budget", "-2"}), doctest::Contains("positive number"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--steps", "3"}), doctest::Contains("unknown option '--steps'"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--config", "x.json"}), doctest::Contains("--config needs --batch B and --seq-len T"),
                         Error);
    CHECK_THROWS_WITH_AS(bench_train({"--config", "x.json", "--model", "transformer", "--batch", "2", "--seq-len", "8"}),
                         doctest::Contains("--config replaces --model and --preset"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "transformer", "--preset", "lm-small", "--batch", "2"}),
                         doctest::Contains("--batch and --seq-len go with --config"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "transformer", "--preset", "lm-small", "--device", "tpu"}),
                         doctest::Contains("--device expects cpu or cuda, got 'tpu'"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--model", "transformer", "--preset", "lm-small", "--tf32"}),
                         doctest::Contains("--tf32 goes with --device cuda"), Error);
  }

  TEST_CASE("bench train times the model of a config file") {
    const std::string path = (std::filesystem::temp_directory_path() / ("hqlt-test-bench-train-config-" + std::to_string(::getpid()) + ".json")).string();
    std::ofstream(path) << R"({"model_type": "transformer", "vocab_size": 11, "hidden_size": 16,
                              "num_hidden_layers": 1, "num_heads": 2})";
    CHECK(bench_train({"--config", path, "--batch", "2", "--seq-len", "8", "--budget", "0.01", "--threads", "1"}) == 0);
    std::filesystem::remove(path);
  }
}
