// The training loop end to end on tiny models: a stopped-and-resumed run ends with the same
// bits as an uninterrupted one, checkpoints survive an interrupted swap, the metrics log is
// continued without repeats, and the run folder holds what train/run_dir.h promises.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine/device.h"
#include "engine/error.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "tiny_runs.h"
#include "train/evaluate.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

using namespace hqlt;
using namespace hqlt::train;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) { return testing::fresh_run_dir("trainer-" + name); }

using testing::silent;
using testing::tiny_options;

nn::StateDict checkpoint_weights(const std::string& run) {
  return io::load_safetensors(run + "/checkpoint/model.safetensors").state_dict();
}

void check_bitwise_equal(const nn::StateDict& a, const nn::StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, ta] : a) {
    const Tensor& tb = b.at(name);
    REQUIRE(ta.numel() == tb.numel());
    const float* pa = ta.data<float>();
    const float* pb = tb.data<float>();
    int64_t differing = 0;
    for (int64_t i = 0; i < ta.numel(); ++i) differing += pa[i] != pb[i];
    const std::string name_value = name;  // a copy: clang 14 cannot capture a structured binding
    INFO(name_value);
    CHECK(differing == 0);
  }
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("a run stopped half-way and resumed ends bit-identical to an uninterrupted run") {
    for (const std::string model : {"sync_hqlt", "transformer"}) {
      INFO(model);
      const std::string whole = fresh_dir("whole-" + model), split = fresh_dir("split-" + model);
      const TrainReport a = train_new(tiny_options(model), RunDir{whole}, silent());
      CHECK(a.finished);
      CHECK(a.step == 8);

      const TrainReport first = train_new(tiny_options(model), RunDir{split}, silent(/*stop_at=*/4));
      CHECK(first.interrupted);
      CHECK_FALSE(first.finished);
      CHECK(first.step == 4);
      // Naming the run's own device changes nothing.
      const TrainReport second = train_resume(RunDir{split}, 1, silent(), model == "transformer" ? "cpu" : "");
      CHECK(second.finished);
      CHECK(second.step == 8);

      check_bitwise_equal(checkpoint_weights(whole), checkpoint_weights(split));
      CHECK(a.test.accuracy.correct == second.test.accuracy.correct);
      CHECK(a.test.loss == second.test.loss);
      // Training changed the weights: the comparison above is not between two initial states.
      Generator init{1, 0};
      const models::CausalLM untrained(make_model_config(tiny_options(model), 3), init);
      const float* trained = checkpoint_weights(whole).at("lm_head.weight").data<float>();
      CHECK(trained[0] != untrained.state_dict().at("lm_head.weight").data<float>()[0]);

      // The log continues without repeating the steps between the checkpoint and the stop.
      std::vector<int64_t> train_steps;
      for (const io::Json& r : read_metrics(split + "/metrics.jsonl"))
        if (r.value("split", "") == "train") train_steps.push_back(r.value("step", int64_t(0)));
      CHECK(train_steps == std::vector<int64_t>{2, 4, 6, 8});
      fs::remove_all(whole);
      fs::remove_all(split);
    }
  }

  TEST_CASE("a finished run folder holds its options and config and log and checkpoint and plots and test result") {
    const std::string dir = fresh_dir("layout");
    train_new(tiny_options(), RunDir{dir}, silent());
    for (const char* f : {"train_options.json", "config.json", "metrics.jsonl", "checkpoint/config.json",
                          "checkpoint/model.safetensors", "checkpoint/training_state.safetensors", "loss.png",
                          "accuracy.png", "accuracy_by_length.png", "test.json"})
      CHECK_MESSAGE(fs::exists(fs::path(dir) / f), f);
    CHECK_FALSE(fs::exists(dir + "/checkpoint.new"));
    CHECK_FALSE(fs::exists(dir + "/checkpoint.old"));
    const io::Json test = io::read_json_file(dir + "/test.json");
    CHECK(test.at("count").as_int() == 32);
    // Starting a second run in the same folder is refused.
    CHECK_THROWS_WITH_AS(train_new(tiny_options(), RunDir{dir}, silent()), doctest::Contains("already holds a run"),
                         Error);
    fs::remove_all(dir);
  }

  TEST_CASE("--test-on best tests the weights of the lowest validation loss that it keeps in best/ and keeps them across a resume") {
    // A learning rate far too large for the tiny model: the validation loss is lowest early
    // and then worse, so the best step is not the last one.
    TrainOptions o = tiny_options();
    o.lr = 0.5;
    o.eval_interval = 1;
    o.test_best = true;
    const std::string whole = fresh_dir("best-whole"), split = fresh_dir("best-split");
    const TrainReport a = train_new(o, RunDir{whole}, silent());
    REQUIRE(a.finished);

    // The step of the lowest validation loss in the log (the first, on a tie).
    int64_t lowest_step = -1;
    double lowest = 0;
    for (const io::Json& r : read_metrics(whole + "/metrics.jsonl"))
      if (r.value("split", "") == "validation" && (lowest_step < 0 || r.value("loss", 0.0) < lowest))
        lowest = r.value("loss", 0.0), lowest_step = r.value("step", int64_t(0));
    CHECK(a.tested_step == lowest_step);
    CHECK(a.tested_step < o.steps);
    CHECK(io::read_json_file(whole + "/test.json").at("tested_step").as_int() == lowest_step);

    // The test result is best/'s weights evaluated on their own, and they are not the last step's.
    const auto best = models::load_pretrained(whole + "/best");
    const auto task = make_task(o);
    const EvalResult again = evaluate(*best, *task, Split::test, o.test_examples, o.batch_size);
    CHECK(again.loss == a.test.loss);
    CHECK(again.accuracy.correct == a.test.accuracy.correct);
    CHECK(io::load_safetensors(whole + "/best/model.safetensors").state_dict().at("lm_head.weight").data<float>()[0] !=
          checkpoint_weights(whole).at("lm_head.weight").data<float>()[0]);

    // Stopped after the best step and resumed, the run still tests that step's weights.
    REQUIRE(train_new(o, RunDir{split}, silent(/*stop_at=*/lowest_step + 1)).interrupted);
    const TrainReport b = train_resume(RunDir{split}, 1, silent());
    CHECK(b.tested_step == a.tested_step);
    CHECK(b.test.loss == a.test.loss);
    fs::remove_all(whole);
    fs::remove_all(split);
  }

  TEST_CASE("a checkpoint swap cut short is repaired from checkpoint.old") {
    const std::string dir = fresh_dir("swap");
    train_new(tiny_options(), RunDir{dir}, silent(4));
    // The crash window between the two renames: only checkpoint.old exists.
    fs::rename(dir + "/checkpoint", dir + "/checkpoint.old");
    CHECK(open_checkpoint(RunDir{dir}) == dir + "/checkpoint");
    CHECK(fs::exists(dir + "/checkpoint/model.safetensors"));
    CHECK(train_resume(RunDir{dir}, 1, silent()).finished);
    fs::remove_all(dir + "/checkpoint");
    CHECK_THROWS_WITH_AS(open_checkpoint(RunDir{dir}), doctest::Contains("no checkpoint in"), Error);
    fs::remove_all(dir);
  }

  TEST_CASE("train options round-trip through train_options.json") {
    TrainOptions o = tiny_options("delayed_chunk_hqlt");
    o.overrides = {"hqlt_fw_block=chunk_size"};
    o.shape.chunk_size = 16;
    o.decay = nn::Decay::linear;
    o.clip = 0.5;
    o.seed = 77;
    o.curriculum_steps = 3;
    o.test_best = true;
    const TrainOptions back = options_from_json(io::Json::parse(options_to_json(o).dump()));
    CHECK(options_to_json(back) == options_to_json(o));
    CHECK(back.overrides == o.overrides);
    CHECK(back.shape.chunk_size == 16);
    CHECK(back.seed == 77);
    CHECK(back.curriculum_steps == 3);
    CHECK(back.test_best);
    CHECK_FALSE(options_from_json(io::Json::parse(options_to_json(tiny_options()).dump())).test_best);
    // A hand-edited options file with an unknown value is an error, not a silent "last".
    io::Json edited = options_to_json(o);
    edited.set("test_on", "bset");
    CHECK_THROWS_WITH_AS(options_from_json(edited), doctest::Contains("must be last or best, got 'bset'"), Error);
    // The parity recipe's curriculum (9/10 of the steps) is resolved before it is saved.
    TrainOptions recipe = default_recipe("parity");
    validate(recipe);
    CHECK(recipe.curriculum_steps == recipe.steps * 9 / 10);
    CHECK(recipe.weight_decay == 0);
    CHECK(default_recipe("modular_arithmetic").curriculum_steps == 0);
  }

  TEST_CASE("mqar's training distribution and vocabulary come from the options") {
    TrainOptions o = default_recipe("mqar");
    o.vocab_size = 40;
    o.mqar_train_pairs = 6;
    o.mqar_train_length = 24;
    const TrainOptions back = options_from_json(io::Json::parse(options_to_json(o).dump()));
    CHECK(back.mqar_train_pairs == 6);
    CHECK(back.mqar_train_length == 24);
    const std::unique_ptr<Task> task = make_task(back);
    CHECK(task->vocab_size() == 40);
    int64_t most_pairs = 0;
    for (uint64_t i = 0; i < 200; ++i) {
      const Example e = task->example(Split::train, i);
      CHECK(e.input.size() == 24);
      int64_t queries = 0;
      for (int64_t t : e.target) queries += t != kIgnore;
      CHECK(queries >= 4);
      most_pairs = std::max(most_pairs, queries);
    }
    CHECK(most_pairs == 6);  // 4 .. 6 pairs, each queried once
    // The recipe's own setting: 63 keys, up to 32 pairs in 128 tokens.
    const std::unique_ptr<Task> recipe = make_task(default_recipe("mqar"));
    CHECK(recipe->vocab_size() == 128);
  }

  TEST_CASE("resuming on a GPU that cannot be used is refused and the run is left as it was") {
    if (cuda_available()) return;  // a GPU machine resumes on it (tests/cuda/test_train_cuda.cpp)
    const std::string dir = fresh_dir("resume-no-gpu");
    train_new(tiny_options(), RunDir{dir}, silent(/*stop_at=*/4));
    const auto metrics_before = fs::file_size(dir + "/metrics.jsonl");
    CHECK_THROWS_AS(train_resume(RunDir{dir}, 1, silent(), "cuda"), Error);
    CHECK(fs::file_size(dir + "/metrics.jsonl") == metrics_before);
    CHECK(train_resume(RunDir{dir}, 1, silent()).finished);  // still resumable where it ran
    fs::remove_all(dir);
  }
}
