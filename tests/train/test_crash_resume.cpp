// Crash-tested training: `hqlt train` is killed with SIGKILL at random moments and resumed
// each time until it finishes. The run checkpoints every step, so many of the kills land
// inside a checkpoint write (the test counts those it catches with checkpoint.new/ or
// checkpoint.old/ on disk). The finished run must hold the same weights, bit for bit, the
// same best/ weights and the same test result as a run never interrupted: nothing a
// checkpoint had saved is lost, and nothing is done twice.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/json.h"
#include "train/metrics_log.h"
#include "spawn_hqlt.h"
#include "tiny_runs.h"

using namespace hqlt;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kRecipe = {
    "--d-model", "16", "--heads", "2", "--layers", "1", "--steps", "300", "--batch-size", "8",
    "--eval-interval", "10", "--eval-examples", "16", "--test-examples", "64", "--checkpoint-interval", "1",
    "--test-on", "best", "--restarts", "2", "--restart-below", "1", "--threads", "1", "--quiet"};

bool finished_cleanly(pid_t pid) { return testing::exit_status(pid) == 0; }

std::vector<std::string> train_args(const std::string& run) {
  if (fs::exists(run + "/train_options.json")) return {"train", "--resume", run, "--threads", "1", "--quiet"};
  std::vector<std::string> args{"train", "--run-dir", run};
  args.insert(args.end(), kRecipe.begin(), kRecipe.end());
  return args;
}

}  // namespace

TEST_SUITE("crash") {
  TEST_CASE("hqlt train killed at random moments and resumed ends bit-identical to an unbroken run") {
    const std::string unbroken = testing::fresh_run_dir("crash-unbroken");
    const std::string broken = testing::fresh_run_dir("crash-broken");

    const auto start = std::chrono::steady_clock::now();
    REQUIRE(finished_cleanly(testing::spawn_hqlt(train_args(unbroken))));
    const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    // kKills attempts killed after a delay uniform over 0.2 s (an unbroken run takes a few
    // seconds, start-up a tenth of one), so the kills fall everywhere: start-up, steps,
    // validations, checkpoint and best/ writes, the final test and plots. Then one attempt
    // runs to the end.
    constexpr int kKills = 60;
    std::mt19937 rng(2026);
    std::uniform_real_distribution<double> delay_ms(0.0, 200.0);
    int kills = 0, kills_in_checkpoint_writes = 0;
    bool finished = false;
    while (!finished && kills < kKills) {
      const pid_t pid = testing::spawn_hqlt(train_args(broken));
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms(rng)));
      ::kill(pid, SIGKILL);
      finished = finished_cleanly(pid);  // it may have finished before the kill
      if (!finished) {
        kills += 1;
        kills_in_checkpoint_writes +=
            fs::exists(broken + "/checkpoint.new") || fs::exists(broken + "/checkpoint.old") ? 1 : 0;
      }
    }
    if (!finished) finished = finished_cleanly(testing::spawn_hqlt(train_args(broken)));
    MESSAGE("survived ", kills, " kills, ", kills_in_checkpoint_writes,
            " of them inside a checkpoint write (an unbroken run: ", int(run_ms), " ms)");
    REQUIRE(finished);
    CHECK(kills >= 20);

    CHECK(testing::file_text(broken + "/checkpoint/model.safetensors") == testing::file_text(unbroken + "/checkpoint/model.safetensors"));
    CHECK(testing::file_text(broken + "/best/model.safetensors") == testing::file_text(unbroken + "/best/model.safetensors"));
    const io::Json a = io::read_json_file(unbroken + "/test.json"), b = io::read_json_file(broken + "/test.json");
    CHECK(b.at("tested_step") == a.at("tested_step"));
    CHECK(b.at("loss") == a.at("loss"));
    CHECK(b.at("buckets") == a.at("buckets"));
    // The same log, record for record (but for the clock): no step, validation or skip
    // logged twice or lost.
    auto without_clock = [](const std::string& path) {
      std::vector<io::Json> records = train::read_metrics(path);
      for (io::Json& r : records)
        for (const char* key : {"seconds", "tokens_per_s"})
          if (r.contains(key)) r.set(key, io::Json());
      return records;
    };
    const std::vector<io::Json> log_a = without_clock(unbroken + "/metrics.jsonl");
    const std::vector<io::Json> log_b = without_clock(broken + "/metrics.jsonl");
    CHECK(log_b.size() == log_a.size());
    for (size_t i = 0; i < std::min(log_a.size(), log_b.size()); ++i) {
      INFO("record ", i, ": unbroken ", log_a[i].dump(), ", resumed ", log_b[i].dump());
      REQUIRE(log_b[i] == log_a[i]);
    }
    fs::remove_all(unbroken);
    fs::remove_all(broken);
  }
}
