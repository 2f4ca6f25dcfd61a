// Training on the GPU end to end (`hqlt train --device cuda`): every model name trains a few
// steps of parity on the GPU from the same initial weights as on the CPU, and the two runs'
// losses, test accuracy and final weights agree (f32; the GPU's sums run in another order,
// so agreement is to a tolerance, not to the bit). A GPU run stopped half-way and resumed
// ends where an uninterrupted GPU run ends.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "compare.h"
#include "cuda_test_utils.h"
#include "engine/rng.h"
#include "io/safetensors.h"
#include "train/evaluate.h"
#include "train/metrics_log.h"
#include "train/model_names.h"
#include "train/tiny_runs.h"
#include "train/trainer.h"

using namespace hqlt;
using namespace hqlt::train;
namespace fs = std::filesystem;
using hqlt::testing::expect_close;

namespace {

std::string fresh_dir(const std::string& name) { return testing::fresh_run_dir("train-cuda-" + name); }

using testing::silent;

// Two layers and a smaller learning rate than the CPU tests' tiny run, and a loss logged at
// every step, so the two devices' curves are compared step by step.
TrainOptions tiny(const std::string& model, const std::string& device) {
  TrainOptions o = testing::tiny_options(model);
  o.device = device;
  o.shape.hidden_size = 32;
  o.shape.num_layers = 2;
  o.steps = 6;
  o.lr = 3e-3;
  o.log_interval = 1;
  o.eval_interval = 0;
  return o;
}

std::vector<double> train_losses(const std::string& run) {
  std::vector<double> out;
  for (const io::Json& r : read_metrics(run + "/metrics.jsonl"))
    if (r.value("split", "") == "train") out.push_back(r.find("loss")->as_double());
  return out;
}

std::vector<double> weights(const std::string& run) {
  std::vector<double> out;
  for (const auto& [name, t] : io::load_safetensors(run + "/checkpoint/model.safetensors").state_dict()) {
    const std::vector<double> v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// ‖a − b‖ / ‖b‖.
double relative_distance(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += b[i] * b[i];
  return std::sqrt(diff / norm);
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda argmax of logits matches the CPU with ties and NaN") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor logits = from_vector({1, NAN, 3, NAN, /**/ NAN, 0, 0, 0, /**/ -INFINITY, -INFINITY, -2, -2, /**/ 0, 7, 7, 1},
                                {2, 2, 4});
    const Tensor want = argmax_last(logits), got = argmax_last(logits.to(Device::cuda));
    CHECK(got.device() == Device::cpu);
    CHECK(got.shape() == want.shape());
    CHECK(got.to_vector() == want.to_vector());
    // A vocabulary wider than a thread block, ties across threads.
    Tensor wide = randn({3, 5, 1000});
    CHECK(argmax_last(wide.to(Device::cuda)).to_vector() == argmax_last(wide).to_vector());
#endif
  }

  TEST_CASE("cuda training of every model matches the CPU run") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    for (const std::string& model : known_models()) {
      INFO(model);
      const std::string cpu = fresh_dir("cpu-" + model), gpu = fresh_dir("gpu-" + model);
      const TrainReport a = train_new(tiny(model, "cpu"), RunDir{cpu}, silent());
      const TrainReport b = train_new(tiny(model, "cuda"), RunDir{gpu}, silent());
      REQUIRE(a.finished);
      REQUIRE(b.finished);
      expect_close(train_losses(gpu), train_losses(cpu), 1e-4);
      // Weights as a whole: Adam divides by √v, so an element whose gradient is ~0 may
      // step differently on the two devices; the run as a whole may not.
      CHECK(relative_distance(weights(gpu), weights(cpu)) <= 1e-3);
      CHECK(b.test.loss == doctest::Approx(a.test.loss).epsilon(1e-4));
      fs::remove_all(cpu);
      fs::remove_all(gpu);
    }
#endif
  }

  TEST_CASE("cuda training stopped and resumed ends where an uninterrupted run ends") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    const std::string whole = fresh_dir("whole"), split = fresh_dir("split");
    train_new(tiny("sync_hqlt", "cuda"), RunDir{whole}, silent());
    const TrainReport stopped = train_new(tiny("sync_hqlt", "cuda"), RunDir{split}, silent(3));
    CHECK(stopped.interrupted);
    const TrainReport resumed = train_resume(RunDir{split}, 1, silent());
    REQUIRE(resumed.finished);
    CHECK(relative_distance(weights(split), weights(whole)) <= 1e-6);
    // The same stop, continued on the CPU: the rest of the run agrees up to rounding.
    const std::string moved = fresh_dir("moved");
    train_new(tiny("sync_hqlt", "cuda"), RunDir{moved}, silent(3));
    REQUIRE(train_resume(RunDir{moved}, 1, silent(), "cpu").finished);
    CHECK(relative_distance(weights(moved), weights(whole)) <= 1e-3);
    fs::remove_all(whole);
    fs::remove_all(split);
    fs::remove_all(moved);
#endif
  }
}
