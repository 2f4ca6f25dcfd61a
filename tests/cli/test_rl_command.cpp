// hqlt rl show plays an episode of each environment, draws the grid worlds' views as a PNG
// strip, and refuses bad invocations with one clear error.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "engine/error.h"
#include "models/model_fixtures.h"
#include "train/metrics_log.h"

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

  TEST_CASE("rl train stopped and resumed writes the unbroken run's agent and log") {
    const hqlt::testing::TempDir dir("rl_train");
    const std::vector<std::string> recipe = {"--model", "delta_net", "--width", "8", "--episodes", "6", "--warmup", "2",
                                             "--eval-interval", "2", "--eval-episodes", "2", "--batch", "2",
                                             "--checkpoint-interval", "2", "--threads", "1", "--quiet"};
    const auto with = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "train");
      args.insert(args.end(), recipe.begin(), recipe.end());
      return args;
    };
    CHECK(rl(with({"--run-dir", dir.file("a")})) == 0);
    CHECK(rl(with({"--run-dir", dir.file("b"), "--stop-at", "5"})) == 0);
    CHECK_FALSE(std::filesystem::exists(dir.file("b") + "/success.png"));  // not finished
    CHECK(rl({"train", "--resume", dir.file("b"), "--threads", "2", "--quiet"}) == 0);
    const auto bytes = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    CHECK(bytes(dir.file("a") + "/checkpoint/agent.safetensors") == bytes(dir.file("b") + "/checkpoint/agent.safetensors"));
    const auto records = [](const std::string& path) {
      std::vector<std::string> out;
      for (const hqlt::io::Json& r : hqlt::train::read_metrics(path)) {
        std::string kept;  // every field but the clock
        for (const char* key : {"episodes", "env_steps", "updates", "return", "success", "critic_loss", "actor_loss",
                                "entropy"})
          kept += r.at(key).dump() + " ";
        out.push_back(kept);
      }
      return out;
    };
    const std::vector<std::string> a = records(dir.file("a") + "/metrics.jsonl");
    CHECK(a.size() == 5);  // at 0, 2 (after the warm-up), 4, 6 and the end (8)
    CHECK(a == records(dir.file("b") + "/metrics.jsonl"));
    CHECK(std::filesystem::exists(dir.file("b") + "/success.png"));
    CHECK_THROWS_WITH_AS(rl(with({"--run-dir", dir.file("a")})), doctest::Contains("already holds a run"), Error);
    CHECK_THROWS_WITH_AS(rl({"train", "--resume", dir.file("a"), "--batch", "3"}), doctest::Contains("only --stop-at"),
                         Error);
    CHECK_THROWS_WITH_AS(rl({"train", "--resume", dir.file("nothing")}), doctest::Contains("not an RL run"), Error);
    CHECK_THROWS_WITH_AS(rl({"train", "--preset", "atari"}), doctest::Contains("unknown --preset 'atari'"), Error);
    CHECK_THROWS_WITH_AS(rl({"train", "--model", "lstm", "--run-dir", dir.file("c")}), doctest::Contains("lstm"), Error);
  }

  TEST_CASE("rl show refuses bad invocations by name") {
    CHECK_THROWS_WITH_AS(rl({"show"}), doctest::Contains("--env is required"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "maze"}), doctest::Contains("unknown environment 'maze'"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--length", "0"}), doctest::Contains("--length"), Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--policy", "greedy"}), doctest::Contains("--policy"),
                         Error);
    CHECK_THROWS_WITH_AS(rl({"show", "--env", "passive_tmaze", "--png", "x.png"}),
                         doctest::Contains("observes two numbers"), Error);
    CHECK_THROWS_WITH_AS(rl({"play"}), doctest::Contains("unknown subcommand 'play'"), Error);
  }
}

TEST_SUITE("unit") {
  TEST_CASE("experiment rl trains every cell once and reads finished runs back") {
    const hqlt::testing::TempDir dir("experiment_rl");
    const std::vector<std::string> args = {"--out", dir.file("x"), "--models", "delta_net,transformer", "--lengths",
                                           "2,3", "--seeds", "1", "--episodes", "2", "--threads", "1"};
    CHECK(experiment_rl(args) == 0);
    CHECK(std::filesystem::exists(dir.file("x") + "/table.md"));
    CHECK(std::filesystem::exists(dir.file("x") + "/success_L3.png"));
    const auto modified = std::filesystem::last_write_time(dir.file("x") + "/delta_net/L2/seed1/metrics.jsonl");
    CHECK(experiment_rl(args) == 0);  // everything finished: nothing is trained again
    CHECK(std::filesystem::last_write_time(dir.file("x") + "/delta_net/L2/seed1/metrics.jsonl") == modified);
    CHECK_THROWS_WITH_AS(experiment_rl({"--lengths", "3,x"}), doctest::Contains("--lengths"), Error);
    CHECK_THROWS_WITH_AS(experiment_rl({"--seeds", "0"}), doctest::Contains("--seeds"), Error);
  }
}
