// Crash-tested training: `hqlt train` (and `hqlt rl train`) is killed with SIGKILL at random
// moments and resumed each time until it finishes. The run checkpoints every step, so many of the kills land
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

const std::vector<std::string> kRlRecipe = {
    "--model", "delta_net", "--width", "8", "--episodes", "120", "--warmup", "4", "--eval-interval", "10",
    "--eval-episodes", "2", "--batch", "2", "--checkpoint-interval", "1", "--threads", "1", "--quiet"};

std::vector<std::string> rl_train_args(const std::string& run) {
  if (fs::exists(run + "/rl_options.json")) return {"rl", "train", "--resume", run, "--threads", "1", "--quiet"};
  std::vector<std::string> args{"rl", "train", "--run-dir", run};
  args.insert(args.end(), kRlRecipe.begin(), kRlRecipe.end());
  return args;
}

struct KillCount {
  bool finished = false;
  int kills = 0, kills_in_checkpoint_writes = 0;
};

// Starts `args_for(run)` again and again, killing each attempt after a delay uniform over
// [0, max_delay_ms), at most max_kills times; then lets one attempt run to the end.
template <typename ArgsFor>
KillCount kill_until_finished(const std::string& run, ArgsFor args_for, int max_kills, double max_delay_ms) {
  std::mt19937 rng(2026);
  std::uniform_real_distribution<double> delay_ms(0.0, max_delay_ms);
  KillCount count;
  while (!count.finished && count.kills < max_kills) {
    const pid_t pid = testing::spawn_hqlt(args_for(run));
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    count.finished = finished_cleanly(pid);  // it may have finished before the kill
    if (!count.finished) {
      count.kills += 1;
      count.kills_in_checkpoint_writes +=
          fs::exists(run + "/checkpoint.new") || fs::exists(run + "/checkpoint.old") ? 1 : 0;
    }
  }
  if (!count.finished) count.finished = finished_cleanly(testing::spawn_hqlt(args_for(run)));
  return count;
}

// Runs `args_for(run)` to the end, uninterrupted; returns its wall time in ms.
template <typename ArgsFor>
double unbroken_run_ms(const std::string& run, ArgsFor args_for) {
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(finished_cleanly(testing::spawn_hqlt(args_for(run))));
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void report(const KillCount& count, double run_ms) {
  MESSAGE("survived ", count.kills, " kills, ", count.kills_in_checkpoint_writes,
          " of them inside a checkpoint write (an unbroken run: ", int(run_ms), " ms)");
}

// The records of a metrics log without their clock fields.
std::vector<io::Json> records_without_clock(const std::string& path, std::initializer_list<const char*> clock_keys) {
  std::vector<io::Json> records = train::read_metrics(path);
  for (io::Json& r : records)
    for (const char* key : clock_keys)
      if (r.contains(key)) r.set(key, io::Json());
  return records;
}

void check_same_records(const std::vector<io::Json>& unbroken, const std::vector<io::Json>& resumed) {
  CHECK(resumed.size() == unbroken.size());
  for (size_t i = 0; i < std::min(unbroken.size(), resumed.size()); ++i) {
    INFO("record ", i, ": unbroken ", unbroken[i].dump(), ", resumed ", resumed[i].dump());
    REQUIRE(resumed[i] == unbroken[i]);
  }
}

}  // namespace

TEST_SUITE("crash") {
  TEST_CASE("hqlt train killed at random moments and resumed ends bit-identical to an unbroken run") {
    const std::string unbroken = testing::fresh_run_dir("crash-unbroken");
    const std::string broken = testing::fresh_run_dir("crash-broken");
    const double run_ms = unbroken_run_ms(unbroken, train_args);

    // Up to 60 attempts killed after a delay uniform over 0.2 s (an unbroken run takes a few
    // seconds, start-up a tenth of one), so the kills fall everywhere: start-up, steps,
    // validations, checkpoint and best/ writes, the final test and plots. Then one attempt
    // runs to the end.
    const KillCount count = kill_until_finished(broken, train_args, 60, 200.0);
    report(count, run_ms);
    REQUIRE(count.finished);
    CHECK(count.kills >= 20);

    CHECK(testing::file_text(broken + "/checkpoint/model.safetensors") == testing::file_text(unbroken + "/checkpoint/model.safetensors"));
    CHECK(testing::file_text(broken + "/best/model.safetensors") == testing::file_text(unbroken + "/best/model.safetensors"));
    const io::Json a = io::read_json_file(unbroken + "/test.json"), b = io::read_json_file(broken + "/test.json");
    CHECK(b.at("tested_step") == a.at("tested_step"));
    CHECK(b.at("loss") == a.at("loss"));
    CHECK(b.at("buckets") == a.at("buckets"));
    // The same log, record for record (but for the clock): no step, validation or skip
    // logged twice or lost.
    check_same_records(records_without_clock(unbroken + "/metrics.jsonl", {"seconds", "tokens_per_s"}),
                       records_without_clock(broken + "/metrics.jsonl", {"seconds", "tokens_per_s"}));
    fs::remove_all(unbroken);
    fs::remove_all(broken);
  }

  TEST_CASE("hqlt rl train killed at random moments and resumed ends bit-identical to an unbroken run") {
    const std::string unbroken = testing::fresh_run_dir("rl-crash-unbroken");
    const std::string broken = testing::fresh_run_dir("rl-crash-broken");
    const double run_ms = unbroken_run_ms(unbroken, rl_train_args);

    // The run checkpoints after every episode; the kills fall over its whole length.
    const KillCount count = kill_until_finished(broken, rl_train_args, 60, std::max(run_ms / 12, 50.0));
    report(count, run_ms);
    REQUIRE(count.finished);
    CHECK(count.kills >= 10);
    CHECK(testing::file_text(broken + "/checkpoint/agent.safetensors") ==
          testing::file_text(unbroken + "/checkpoint/agent.safetensors"));
    check_same_records(records_without_clock(unbroken + "/metrics.jsonl", {"seconds"}),
                       records_without_clock(broken + "/metrics.jsonl", {"seconds"}));
    fs::remove_all(unbroken);
    fs::remove_all(broken);
  }
}
