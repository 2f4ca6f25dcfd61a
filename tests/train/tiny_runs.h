#pragma once
// What the training-loop tests share: a fresh run folder of their own (the process id in
// the name, so concurrent test runs do not collide), a model and recipe small enough for a
// few steps in well under a second, and a run control that prints nothing.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "train/trainer.h"

namespace hqlt::testing {

inline std::string fresh_run_dir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("hqlt-test-run-" + name + "-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  return dir;
}

inline train::TrainOptions tiny_options(const std::string& model = "sync_hqlt") {
  train::TrainOptions o = train::default_recipe("parity");
  o.model = model;
  o.shape.hidden_size = 16;
  o.shape.num_layers = 1;
  o.shape.num_heads = 2;
  o.steps = 8;
  o.batch_size = 8;
  o.lr = 1e-2;
  o.warmup_steps = 2;
  o.log_interval = 2;
  o.eval_interval = 4;
  o.eval_examples = 16;
  o.test_examples = 32;
  o.checkpoint_interval = 0;
  o.threads = 1;
  // One attempt that tests its last step: the recipe's fresh starts would multiply every
  // tiny run (a tiny model never reaches their target); the tests that want them ask.
  o.restarts = 0;
  o.test_best = false;
  o.average_decay = 0;
  o.confirm_examples = 0;
  return o;
}

inline train::RunControl silent(int64_t stop_at = 0) {
  train::RunControl c;
  c.progress = false;
  c.summary = false;
  c.stop_at = stop_at;
  return c;
}

}  // namespace hqlt::testing
