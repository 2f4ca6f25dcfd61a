// hqlt bench train refuses bad invocations with one clear error that names the option and
// lists what it accepts, before it builds any model.
#include <doctest/doctest.h>

#include "engine/error.h"
#include "train/commands.h"

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
                         "sync_hqlt, delayed_stream_hqlt, delayed_chunk_hqlt, sync_linear_hqlt",
                         Error);
    CHECK_THROWS_WITH_AS(bench_train({"--threads", "0"}), doctest::Contains("--threads"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--budget", "-2"}), doctest::Contains("positive number"), Error);
    CHECK_THROWS_WITH_AS(bench_train({"--steps", "3"}), doctest::Contains("unknown option '--steps'"), Error);
  }
}
