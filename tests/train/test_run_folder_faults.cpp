// A run folder that cannot take a write, or holds a damaged checkpoint: `hqlt train` stops
// with one clear error line and a non-zero exit, and loses nothing that was saved — the
// run, resumed once the fault is gone, ends with the same weights as a run that never met
// it. The faults: the disk fills up during a checkpoint (a file-size limit on the process,
// so every write past it fails as on a full disk), the folder is read-only, and a
// checkpoint file is corrupted or cut short.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spawn_hqlt.h"
#include "tiny_runs.h"

using namespace hqlt;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kRecipe = {"--d-model", "16", "--heads", "2", "--layers", "1", "--steps", "40",
                                          "--batch-size", "8", "--eval-interval", "10", "--eval-examples", "16",
                                          "--test-examples", "32", "--checkpoint-interval", "10", "--restarts", "0",
                                          "--threads", "1", "--quiet"};

std::vector<std::string> new_run(const std::string& dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"train", "--run-dir", dir};
  args.insert(args.end(), kRecipe.begin(), kRecipe.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
std::vector<std::string> resume(const std::string& dir) { return {"train", "--resume", dir, "--threads", "1", "--quiet"}; }

// The stderr of a failed attempt: exactly one line, "hqlt: error: ...".
void check_one_error_line(const std::string& stderr_text, const std::string& expected) {
  INFO("stderr: ", stderr_text);
  CHECK(stderr_text.rfind("hqlt: error: ", 0) == 0);
  CHECK(stderr_text.find('\n') == stderr_text.size() - 1);
  CHECK(stderr_text.find(expected) != std::string::npos);
}

// A finished run to compare with, and a run stopped at step 20 with its checkpoint.
struct Runs {
  std::string reference = testing::fresh_run_dir("faults-reference");
  std::string run;
  explicit Runs(const std::string& name) : run(testing::fresh_run_dir("faults-" + name)) {
    REQUIRE(testing::exit_status(testing::spawn_hqlt(new_run(reference))) == 0);
    REQUIRE(testing::exit_status(testing::spawn_hqlt(new_run(run, {"--stop-at", "20"}))) == 0);
  }
  ~Runs() {
    fs::remove_all(reference);
    fs::remove_all(run);
  }
  std::string weights(const std::string& dir) const { return testing::file_text(dir + "/checkpoint/model.safetensors"); }
  // Resumed without the fault, the run ends where the reference did.
  void check_nothing_lost() const {
    REQUIRE(testing::exit_status(testing::spawn_hqlt(resume(run))) == 0);
    CHECK(weights(run) == weights(reference));
  }
};

}  // namespace

TEST_SUITE("crash") {
  TEST_CASE("a disk that fills up during a checkpoint stops the run with one error and loses nothing") {
    Runs runs("full-disk");
    const std::string saved = runs.weights(runs.run);
    // Below the size of model.safetensors, above every other file the run writes.
    const long limit = long(saved.size()) / 2;
    REQUIRE(limit > long(fs::file_size(runs.run + "/metrics.jsonl")) + 4096);
    const std::string err = runs.run + ".stderr";
    const int status = testing::exit_status(testing::spawn_hqlt(resume(runs.run), err, {limit, false}));
    CHECK(status == 1);
    check_one_error_line(testing::file_text(err), "model.safetensors");
    CHECK(runs.weights(runs.run) == saved);  // the step-20 checkpoint, untouched
    fs::remove(err);
    runs.check_nothing_lost();
  }

  TEST_CASE("a read-only run folder stops the run with one error and loses nothing") {
    Runs runs("read-only");
    const std::string saved = runs.weights(runs.run);
    const auto read_only = fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec;
    for (const std::string& dir : {runs.run, runs.run + "/checkpoint"}) fs::permissions(dir, read_only);
    const std::string err = testing::fresh_run_dir("faults-read-only.stderr");
    const int status = testing::exit_status(testing::spawn_hqlt(resume(runs.run), err, {-1, true}));
    for (const std::string& dir : {runs.run, runs.run + "/checkpoint"})
      fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
    CHECK(status == 1);
    check_one_error_line(testing::file_text(err), runs.run);
    CHECK(runs.weights(runs.run) == saved);
    fs::remove(err);
    runs.check_nothing_lost();
  }

  TEST_CASE("a corrupted or cut checkpoint file is refused with one error naming it and is left in place") {
    Runs runs("corrupt");
    const std::string err = runs.run + ".stderr";
    for (const char* file : {"model.safetensors", "training_state.safetensors", "config.json"}) {
      CAPTURE(file);
      const std::string path = runs.run + "/checkpoint/" + file;
      const std::string good = testing::file_text(path);
      for (const std::string& bad : {good.substr(0, good.size() / 2), std::string(good.size(), '\x7f')}) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
        const int status = testing::exit_status(testing::spawn_hqlt(resume(runs.run), err));
        CHECK(status == 1);
        check_one_error_line(testing::file_text(err), path);
        CHECK(testing::file_text(path) == bad);  // refused, not repaired or removed
      }
      std::ofstream(path, std::ios::binary | std::ios::trunc) << good;
    }
    fs::remove(err);
    runs.check_nothing_lost();
  }
}
