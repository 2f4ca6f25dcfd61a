// hqlt chooses a short OpenMP spin for itself (cli/omp_spin.h): started from a shell that
// sets neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, the running program has
// GOMP_SPINCOUNT=1000 in its environment; a user's own choice is left alone.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "train/spawn_hqlt.h"
#include "train/tiny_runs.h"

using namespace hqlt;

namespace {

// The environment of a running process, as "NAME=value" entries.
std::vector<std::string> environment_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  std::vector<std::string> entries;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\0') entries.push_back(text.substr(start, i - start)), start = i + 1;
  return entries;
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  for (const std::string& e : env)
    if (e == entry) return true;
  return false;
}

// Starts a training run long enough to be looked at, and reads its environment once the
// program is past its start-up.
std::vector<std::string> environment_of_training(bool user_omp_env) {
  const std::string run = testing::fresh_run_dir(user_omp_env ? "spin-default" : "spin-chosen");
  const pid_t pid = testing::spawn_hqlt({"train", "--run-dir", run, "--d-model", "16", "--heads", "2", "--layers", "1",
                                         "--steps", "100000", "--threads", "1", "--quiet"},
                                        "", testing::ChildLimits{.user_omp_env = user_omp_env});
  std::vector<std::string> env;
  for (int attempt = 0; attempt < 100 && !std::filesystem::exists(run + "/train_options.json"); ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  env = environment_of(pid);
  ::kill(pid, SIGKILL);
  testing::exit_status(pid);
  std::filesystem::remove_all(run);
  return env;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("hqlt runs with a short OpenMP spin unless the user chose a wait policy") {
    const std::vector<std::string> default_env = environment_of_training(/*user_omp_env=*/true);
    REQUIRE(!default_env.empty());
    CHECK(has(default_env, "GOMP_SPINCOUNT=1000"));
    const std::vector<std::string> chosen_env = environment_of_training(/*user_omp_env=*/false);
    REQUIRE(!chosen_env.empty());
    CHECK(has(chosen_env, "OMP_WAIT_POLICY=passive"));
    for (const std::string& e : chosen_env) CHECK(e.rfind("GOMP_SPINCOUNT=", 0) != 0);
  }
}
