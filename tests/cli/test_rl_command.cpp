// hqlt rl show plays an episode of each environment, draws the grid worlds' views as a PNG
// strip, and refuses bad invocations with one clear error.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "engine/error.h"
#include "models/model_fixtures.h"

using namespace hqlt;
using namespace hqlt::cli;

TEST_SUITE("unit") {
  TEST_CASE("rl show plays every environment and draws a grid world as a PNG strip") {
    for (const char* env : {"passive_tmaze", "active_tmaze", "visual_match", "key_to_door"})
      for (const char* policy : {"expert", "random"}) CHECK(rl({"show", "--env", env, "--length", "4", "--policy", policy, "--quiet"}) == 0);
    const hqlt::testing::TempDir dir("rl_show");
    const std::string png = dir.file("views.png");
    CHECK(rl({"show", "--env", "visual_match", "--length", "3", "--episode", "5", "--png", png}) == 0);
    std::ifstream in(png, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    CHECK(head == std::string("\x89PNG\r\n\x1a\n", 8));
  }

  TEST_CASE("rl show refuses bad invocations by name") {
    CHECK_THROWS_WITH_AS(rl({"show"}), doctest::Contains("--env is required"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "maze"}), doctest::Contains("unknown environment 'maze'"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--length", "0"}), doctest::Contains("--length"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--policy", "greedy"}), doctest::Contains("--policy"),
                         Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--png", "x.png"}),
                         doctest::Contains("observes two numbers"), Error);
    CHECK_THROWS_WITH_AS(rl({"train"}), doctest::Contains("unknown subcommand 'train'"), Error);
  }
}
