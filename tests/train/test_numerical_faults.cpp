// Steps whose numbers go bad: the parameter with a non-finite gradient is named with its
// count, and a run whose weights have blown up (a learning rate of 1e30 turns every weight
// into ~1e30 after one update, so every later loss is NaN) stops after kMaxConsecutiveSkips
// skipped steps with one message, each skip logged, and its last checkpoint kept.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/error.h"
#include "nn/module.h"
#include "tiny_runs.h"
#include "train/metrics_log.h"
#include "train/numerical_faults.h"

using namespace hqlt;
using namespace hqlt::train;

namespace {

struct TwoParameters : nn::Module {
  TwoParameters() {
    register_parameter("first", zeros({2}));
    register_parameter("second", zeros({3}));
  }
};

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("non_finite_gradient names the first parameter with a NaN or infinite gradient and counts them") {
    TwoParameters m;
    const double inf = std::numeric_limits<double>::infinity();
    auto params = m.named_parameters();
    CHECK(non_finite_gradient(m) == "");  // no gradients yet
    params[0].second.set_grad(from_vector({1.0, 2.0}, {2}));
    params[1].second.set_grad(from_vector({std::nan(""), -inf, 0.5}, {3}));
    CHECK(non_finite_gradient(m) == "the gradient of 'second' has 2 non-finite values (of 3)");
    params[0].second.set_grad(from_vector({inf, 2.0}, {2}));
    CHECK(non_finite_gradient(m) == "the gradient of 'first' has 1 non-finite value (of 2)");
    params[0].second.set_grad(from_vector({1.0, 2.0}, {2}));
    params[1].second.set_grad(from_vector({0.0, 0.0, 0.5}, {3}));
    CHECK(non_finite_gradient(m) == "");
  }

  TEST_CASE("a run whose every step goes non-finite stops with one message and keeps its checkpoint") {
    const std::string run = testing::fresh_run_dir("numerical-faults");
    TrainOptions o = testing::tiny_options();
    o.lr = 1e30;
    o.warmup_steps = 0;
    o.decay = nn::Decay::constant;
    o.steps = 100;
    o.eval_interval = 0;
    o.checkpoint_interval = 1;
    CHECK_THROWS_WITH_AS(train_new(o, RunDir{run}, testing::silent()),
                         doctest::Contains("20 steps in a row had a non-finite loss or gradient"), Error);
    int64_t skipped = 0, last_skipped_step = 0;
    for (const io::Json& r : read_metrics(run + "/metrics.jsonl")) {
      if (r.value("split", "") != "skipped") continue;
      skipped += 1;
      last_skipped_step = r.value("step", int64_t(0));
      CHECK(r.value("skipped_steps", int64_t(0)) == skipped);
      const std::string reason = r.value("reason", "");
      CHECK((reason.find("the loss is") == 0 || reason.find("non-finite") != std::string::npos));
    }
    CHECK(skipped == kMaxConsecutiveSkips);
    // The updates before the blow-up were checkpointed, and every skipped step would have
    // been the same next step.
    CHECK(std::filesystem::exists(run + "/checkpoint/model.safetensors"));
    CHECK(last_skipped_step >= 2);
    std::filesystem::remove_all(run);
  }
}
