// hqlt bench generate refuses bad invocations with one clear error naming the option, and
// decodes a short generation for one model.
#include <doctest/doctest.h>

#include "cli/commands.h"
#include "engine/error.h"

using namespace hqlt;
using namespace hqlt::cli;

TEST_SUITE("unit") {
  TEST_CASE("bench generate refuses bad options by name") {
    CHECK_THROWS_WITH_AS(bench_generate({"--model", "gpt"}),
                         "bench generate: --model: unknown model 'gpt'; known models: transformer, delta_net, "
                         "sync_hqlt, delayed_stream_hqlt, delayed_chunk_hqlt, sync_linear_hqlt, delta_net_attn",
                         Error);
    CHECK_THROWS_WITH_AS(bench_generate({"--tokens", "100", "--window", "30"}),
                         "bench generate: --window 30 must divide --tokens 100", Error);
    CHECK_THROWS_WITH_AS(bench_generate({"--tokens", "0"}), doctest::Contains("--tokens"), Error);
    CHECK_THROWS_WITH_AS(bench_generate({"--batch", "2"}), doctest::Contains("unknown option '--batch'"), Error);
  }

  TEST_CASE("bench generate decodes one model window by window") {
    CHECK(bench_generate({"--model", "delta_net", "--tokens", "8", "--window", "4", "--threads", "1"}) == 0);
    CHECK(bench_generate({"--model", "transformer", "--tokens", "4", "--window", "2", "--json"}) == 0);
  }
}
