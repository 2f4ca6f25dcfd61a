// The training loop end to end on tiny models: a stopped-and-resumed run ends with the same
// bits as an uninterrupted one, checkpoints survive an interrupted swap, the metrics log is
// continued without repeats, and the run folder holds what train/run_dir.h promises.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

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

// A run's metrics records as text, but for the "train" records, which carry wall-clock figures
// (tokens per second, seconds) that differ from one process to the next.
std::vector<std::string> untimed_records(const std::string& run) {
  std::vector<std::string> lines;
  for (const io::Json& r : read_metrics(run + "/metrics.jsonl"))
    if (r.value("split", "") != "train") lines.push_back(r.dump());
  return lines;
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

  TEST_CASE("--test-on best tests the weights of the best validation that it keeps in best/ and across a resume") {
    // A learning rate far too large for the tiny model: validation swings from step to step,
    // so the best step is not the last one.
    TrainOptions o = tiny_options();
    o.lr = 0.5;
    o.eval_interval = 1;
    o.test_best = true;
    const std::string whole = fresh_dir("best-whole"), split = fresh_dir("best-split");
    const TrainReport a = train_new(o, RunDir{whole}, silent());
    REQUIRE(a.finished);

    // Parity is judged by its answers: the step of the highest validation accuracy, the
    // lowest loss among equals, the first of exact ties.
    int64_t best_step = -1;
    double best_accuracy = 0, best_loss = 0;
    for (const io::Json& r : read_metrics(whole + "/metrics.jsonl")) {
      if (r.value("split", "") != "validation") continue;
      const double accuracy = r.value("accuracy", 0.0), loss = r.value("loss", 0.0);
      if (best_step < 0 || accuracy > best_accuracy || (accuracy == best_accuracy && loss < best_loss))
        best_accuracy = accuracy, best_loss = loss, best_step = r.value("step", int64_t(0));
    }
    CHECK(a.tested_step == best_step);
    CHECK(a.tested_step < o.steps);
    CHECK(io::read_json_file(whole + "/test.json").at("tested_step").as_int() == best_step);

    // The test result is best/'s weights evaluated on their own, and they are not the last step's.
    const auto best = models::load_pretrained(whole + "/best");
    const auto task = make_task(o);
    const EvalResult again = evaluate(*best, *task, Split::test, o.test_examples, o.batch_size);
    CHECK(again.loss == a.test.loss);
    CHECK(again.accuracy.correct == a.test.accuracy.correct);
    CHECK(io::load_safetensors(whole + "/best/model.safetensors").state_dict().at("lm_head.weight").data<float>()[0] !=
          checkpoint_weights(whole).at("lm_head.weight").data<float>()[0]);

    // Stopped right after the best step's validation and resumed, the run still tests that
    // step's weights.
    REQUIRE(train_new(o, RunDir{split}, silent(/*stop_at=*/best_step)).interrupted);
    const TrainReport b = train_resume(RunDir{split}, 1, silent());
    CHECK(b.tested_step == a.tested_step);
    CHECK(b.test.loss == a.test.loss);
    fs::remove_all(whole);
    fs::remove_all(split);
  }

  TEST_CASE("--restarts starts again from fresh weights and the whole schedule and tests the best of all attempts") {
    // The tiny model cannot fit parity in 8 steps, so every attempt is still at chance at
    // its half-way validation (step 4 of 8) and is given up there, until the last, which
    // runs its 8 steps: 4 + 4 + 8 steps.
    TrainOptions o = tiny_options();
    o.test_best = true;
    o.restarts = 2;
    o.restart_below = 1.0;
    const std::string dir = fresh_dir("restarts");
    const TrainReport a = train_new(o, RunDir{dir}, silent());
    REQUIRE(a.finished);
    CHECK(a.attempts == 3);
    CHECK(a.step == 16);
    const io::Json test = io::read_json_file(dir + "/test.json");
    CHECK(test.at("attempts").as_int() == 3);

    std::vector<int64_t> restart_steps;
    std::map<int64_t, double> lr_at, loss_at;
    int64_t best_step = -1;
    double best_accuracy = 0, best_loss = 0;
    for (const io::Json& r : read_metrics(dir + "/metrics.jsonl")) {
      const std::string split = r.value("split", "");
      const int64_t step = r.value("step", int64_t(0));
      if (split == "restart") restart_steps.push_back(step);
      if (split == "train") lr_at[step] = r.value("lr", 0.0), loss_at[step] = r.value("loss", 0.0);
      if (split != "validation") continue;
      const double accuracy = r.value("accuracy", 0.0), loss = r.value("loss", 0.0);
      if (best_step < 0 || accuracy > best_accuracy || (accuracy == best_accuracy && loss < best_loss))
        best_accuracy = accuracy, best_loss = loss, best_step = step;
    }
    CHECK(restart_steps == std::vector<int64_t>{4, 8});
    // Each attempt runs the schedule from its start: the same warm-up learning rate at its
    // second step, which the tiny recipe logs (every 2 steps).
    REQUIRE(lr_at.count(2));
    CHECK(lr_at.at(6) == lr_at.at(2));
    CHECK(lr_at.at(10) == lr_at.at(2));
    // The tested weights are the best validation of the whole run, whichever attempt it was in.
    CHECK(a.tested_step == best_step);

    // The attempts start from different weights (each draws on from the run's generator):
    // their first logged training losses differ.
    CHECK(loss_at.at(6) != loss_at.at(2));
    CHECK(loss_at.at(10) != loss_at.at(6));

    // Stopped inside the second attempt and resumed, the run ends bit-identical.
    const std::string split = fresh_dir("restarts-split");
    REQUIRE(train_new(o, RunDir{split}, silent(/*stop_at=*/6)).interrupted);
    const TrainReport b = train_resume(RunDir{split}, 1, silent());
    CHECK(b.attempts == 3);
    CHECK(b.tested_step == a.tested_step);
    CHECK(b.test.loss == a.test.loss);
    check_bitwise_equal(checkpoint_weights(split), checkpoint_weights(dir));
    CHECK(untimed_records(dir) == untimed_records(split));
    fs::remove_all(dir);
    fs::remove_all(split);
  }

  TEST_CASE("--average-weights keeps a <- d*a + (1 - d)*w in its checkpoints and validates and tests it") {
    TrainOptions o = tiny_options();
    o.average_decay = 0.5;
    o.test_best = true;
    o.eval_interval = 2;
    const std::string whole = fresh_dir("average-whole"), split = fresh_dir("average-split");
    const TrainReport a = train_new(o, RunDir{whole}, silent());
    REQUIRE(a.finished);

    // Stopped after every step and resumed: the checkpoints hold the weights w_k and the
    // average a_k, which must follow the recurrence from step to step.
    auto average_weights = [&] {
      return io::load_safetensors(split + "/checkpoint/average/model.safetensors").state_dict();
    };
    REQUIRE(train_new(o, RunDir{split}, silent(1)).interrupted);
    nn::StateDict previous = average_weights();
    for (int64_t k = 2; k <= o.steps; ++k) {
      if (k < o.steps) REQUIRE(train_resume(RunDir{split}, 1, silent(k)).interrupted);
      else REQUIRE(train_resume(RunDir{split}, 1, silent()).finished);
      const nn::StateDict w = checkpoint_weights(split), avg = average_weights();
      REQUIRE(avg.size() == w.size());
      double worst = 0, moved = 0;
      for (const auto& [name, tensor] : avg) {
        const std::vector<double> ak = tensor.to_vector(), wk = w.at(name).to_vector(),
                                  before = previous.at(name).to_vector();
        for (size_t i = 0; i < ak.size(); ++i) {
          worst = std::max(worst, std::abs(ak[i] - (0.5 * before[i] + 0.5 * wk[i])) / (1e-6 + std::abs(ak[i])));
          moved = std::max(moved, std::abs(ak[i] - before[i]));
        }
      }
      INFO("step " << k);
      CHECK(worst < 1e-6);
      CHECK(moved > 0);
      previous = avg;
    }
    // ... and the resumed run ends as the uninterrupted one did.
    CHECK(read_metrics(split + "/metrics.jsonl").size() == read_metrics(whole + "/metrics.jsonl").size());
    CHECK(untimed_records(whole) == untimed_records(split));
    check_bitwise_equal(io::load_safetensors(split + "/best/model.safetensors").state_dict(),
                        io::load_safetensors(whole + "/best/model.safetensors").state_dict());

    // Every validation is made of the weights and of their average; the tested weights are
    // the best of all of them (the highest accuracy, the lower loss among equals, the
    // trained weights on an exact tie, as they are validated first).
    int64_t validations = 0, averages = 0, best_step = -1;
    double best_accuracy = 0, best_loss = 0;
    std::string best_weights;
    for (const io::Json& r : read_metrics(whole + "/metrics.jsonl")) {
      const std::string split_name = r.value("split", "");
      if (split_name != "validation" && split_name != "validation_average") continue;
      (split_name == "validation" ? validations : averages) += 1;
      const double accuracy = r.value("accuracy", 0.0), loss = r.value("loss", 0.0);
      if (best_step < 0 || accuracy > best_accuracy || (accuracy == best_accuracy && loss < best_loss)) {
        best_accuracy = accuracy, best_loss = loss, best_step = r.value("step", int64_t(0));
        best_weights = split_name == "validation" ? "trained" : "average";
      }
    }
    CHECK(validations == o.steps / o.eval_interval);
    CHECK(averages == validations);
    CHECK(a.tested_step == best_step);
    CHECK(io::read_json_file(whole + "/test.json").at("tested_weights").as_string() == best_weights);
    // `hqlt eval --weights best` loads the same weights: they score the test exactly as the run did.
    const std::unique_ptr<Task> task = make_task(o);
    const EvalResult again = evaluate(*load_run_best(RunDir{whole}, *task), *task, Split::test, o.test_examples,
                                      o.batch_size);
    CHECK(again.loss == a.test.loss);
    CHECK(again.accuracy.correct == a.test.accuracy.correct);
    // A run that tests its last step keeps no best/.
    const std::string last = fresh_dir("average-last");
    REQUIRE(train_new(tiny_options(), RunDir{last}, silent()).finished);
    CHECK_THROWS_WITH_AS(load_run_best(RunDir{last}, *task), doctest::Contains("has no best/ weights"), Error);
    fs::remove_all(last);
    fs::remove_all(whole);
    fs::remove_all(split);
  }

  TEST_CASE("--confirm-examples scores candidates again on later validation examples and ranks by their worst bucket") {
    // A tiny model hovers around chance, so with the target at 50% some validations reach
    // it and are confirmed and some do not; the seeds give runs that end early on a
    // confirmed target and runs that do not. Whatever the path, the rules must hold.
    int64_t confirmations = 0, unconfirmed = 0, ended_early = 0, ran_out = 0;
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      TrainOptions o = tiny_options();
      o.seed = seed;
      o.test_best = true;
      o.average_decay = 0.5;
      o.eval_interval = 2;
      o.restarts = 1;
      o.restart_below = 0.5;
      o.confirm_examples = 48;
      const std::string dir = fresh_dir("confirm-" + std::to_string(seed));
      const TrainReport a = train_new(o, RunDir{dir}, silent());
      REQUIRE(a.finished);
      const std::unique_ptr<Task> task = make_task(o);

      // Every validation at the target has its confirmation (same step, same weights), and
      // no other has one.
      std::map<std::string, io::Json> confirmation;  // "step/weights" -> its record
      std::vector<io::Json> validations;
      for (const io::Json& r : read_metrics(dir + "/metrics.jsonl")) {
        const std::string split = r.value("split", "");
        const std::string key = std::to_string(r.value("step", int64_t(0))) + "/" +
                                (split.ends_with("_average") ? "average" : "trained");
        if (split.starts_with("confirmation")) confirmation[key] = r;
        if (split.starts_with("validation")) validations.push_back(r);
      }
      bool any_confirmed = false, reached = false;
      std::string best_key;
      double best_worst = -1, best_confirmed_accuracy = -1, best_accuracy = -1, best_loss = 0;
      for (const io::Json& v : validations) {
        const int64_t step = v.value("step", int64_t(0));
        const std::string which = v.value("split", "") == "validation" ? "trained" : "average";
        const std::string key = std::to_string(step) + "/" + which;
        const double accuracy = v.value("accuracy", 0.0), loss = v.value("loss", 0.0);
        const bool at_target = accuracy >= o.restart_below;
        CHECK(confirmation.count(key) == size_t(at_target));
        if (!at_target) {
          unconfirmed += 1;
          if (!any_confirmed && (accuracy > best_accuracy || (accuracy == best_accuracy && loss < best_loss)))
            best_key = key, best_accuracy = accuracy, best_loss = loss;
          continue;
        }
        confirmations += 1;
        const io::Json& c = confirmation.at(key);
        const double worst = c.value("worst_bucket", 0.0), confirmed_accuracy = c.value("accuracy", 0.0);
        CHECK(worst <= confirmed_accuracy);
        if (!any_confirmed || worst > best_worst || (worst == best_worst && confirmed_accuracy > best_confirmed_accuracy))
          best_key = key, best_worst = worst, best_confirmed_accuracy = confirmed_accuracy;
        any_confirmed = true;
        reached = reached || worst >= o.restart_below;
      }
      // The tested weights are the best confirmed candidate when there is one.
      const io::Json test = io::read_json_file(dir + "/test.json");
      CHECK(std::to_string(a.tested_step) + "/" + test.at("tested_weights").as_string() == best_key);
      CHECK(test.contains("confirmed") == any_confirmed);
      if (any_confirmed) {
        // ... and its confirmation is the tested weights scored again, on the validation
        // examples after the first eval_examples, by a plain evaluation here.
        const EvalResult again = evaluate(*load_run_best(RunDir{dir}, *task), *task, Split::validation,
                                          o.confirm_examples, o.batch_size, o.eval_examples);
        double worst = 1;
        for (const LengthBucket& b : again.buckets)
          if (b.sequences > 0) worst = std::min(worst, double(b.correct) / double(b.supervised));
        CHECK(test.at("confirmed").at("worst_bucket").as_double() == worst);
        CHECK(test.at("confirmed").at("accuracy").as_double() == again.accuracy.token_accuracy());
        CHECK(best_worst == worst);
      }
      // A confirmed target ends the run at once; without one, every attempt runs.
      if (reached) {
        ended_early += 1;
        CHECK(validations.back().value("step", int64_t(0)) == a.step);
        CHECK(a.step < int64_t(o.restarts + 1) * o.steps);
      } else {
        ran_out += 1;
        CHECK(a.attempts == o.restarts + 1);
      }
      // Stopped a step before its end and resumed, the run ends as the unbroken one did.
      const std::string split = fresh_dir("confirm-split-" + std::to_string(seed));
      REQUIRE(train_new(o, RunDir{split}, silent(/*stop_at=*/a.step - 1)).interrupted);
      const TrainReport b = train_resume(RunDir{split}, 1, silent());
      CHECK(b.step == a.step);
      CHECK(b.tested_step == a.tested_step);
      CHECK(b.test.loss == a.test.loss);
      CHECK(untimed_records(dir) == untimed_records(split));
      // Resuming a run that ended on its target trains no further.
      const TrainReport c = train_resume(RunDir{dir}, 1, silent());
      CHECK(c.step == a.step);
      fs::remove_all(dir);
      fs::remove_all(split);
    }
    // The seeds cover both kinds of candidate and both ends of a run.
    CHECK(confirmations > 0);
    CHECK(unconfirmed > 0);
    CHECK(ended_early > 0);
    CHECK(ran_out > 0);
  }

  TEST_CASE("--confirm-examples needs --test-on best and a task judged by its answers and round-trips") {
    TrainOptions o = tiny_options();
    o.confirm_examples = 64;
    CHECK_THROWS_WITH_AS(validate(o), doctest::Contains("--confirm-examples needs --test-on best"), Error);
    o.test_best = true;
    validate(o);
    CHECK(options_from_json(io::Json::parse(options_to_json(o).dump())).confirm_examples == 64);
    io::Json old = options_to_json(o);
    std::erase_if(old.as_object(), [](const auto& field) { return field.first == "confirm_examples"; });
    CHECK(options_from_json(old).confirm_examples == 0);  // a run saved before the option: none
    o.confirm_examples = -1;
    CHECK_THROWS_WITH_AS(validate(o), doctest::Contains("--confirm-examples must be >= 0"), Error);
  }

  TEST_CASE("--average-weights takes a decay from 0 up to below 1 and round-trips through train_options.json") {
    TrainOptions o = tiny_options();
    o.average_decay = 1.0;
    CHECK_THROWS_WITH_AS(validate(o), doctest::Contains("--average-weights must be in [0, 1)"), Error);
    o.average_decay = 0.95;
    validate(o);
    CHECK(options_from_json(io::Json::parse(options_to_json(o).dump())).average_decay == 0.95);
    // A run saved before the option existed has no average.
    io::Json old = options_to_json(o);
    auto& fields = old.as_object();
    std::erase_if(fields, [](const auto& field) { return field.first == "average_decay"; });
    CHECK(options_from_json(old).average_decay == 0);
  }

  TEST_CASE("--restarts needs --test-on best and --restart-below is a fraction") {
    TrainOptions o = tiny_options();
    o.restarts = 1;
    CHECK_THROWS_WITH_AS(validate(o), doctest::Contains("--restarts needs --test-on best"), Error);
    o.test_best = true;
    o.restart_below = 1.5;
    CHECK_THROWS_WITH_AS(validate(o), doctest::Contains("--restart-below must be in [0, 1]"), Error);
    o.restart_below = 0.99;
    validate(o);
    const TrainOptions back = options_from_json(io::Json::parse(options_to_json(o).dump()));
    CHECK(back.restarts == 1);
    CHECK(back.restart_below == 0.99);
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
    // The parity recipe: no curriculum, init 0.02, weight decay 0.1, the best validation of
    // the weights or their average tested, confirmed on 4096 more examples, up to nine fresh
    // starts until a confirmed candidate has every bucket at 99.5%.
    TrainOptions recipe = default_recipe("parity");
    validate(recipe);
    CHECK(recipe.curriculum_steps == 0);
    CHECK(recipe.weight_decay == 0.1);
    CHECK(recipe.shape.initializer_range == 0.02);
    CHECK(recipe.test_best);
    CHECK(recipe.restarts == 9);
    CHECK(recipe.restart_below == 0.995);
    CHECK(recipe.average_decay == 0.99);
    CHECK(recipe.confirm_examples == 4096);
    // A curriculum of -1 (the API's "four fifths of the steps") is resolved before it is saved.
    recipe.curriculum_steps = -1;
    validate(recipe);
    CHECK(recipe.curriculum_steps == recipe.steps * 4 / 5);
    // Modular arithmetic's recipe: the paper's 3 layers and lr, clipping, and a curriculum
    // from L = 11 over 4/5 of the steps, which follows --steps.
    TrainOptions modular = default_recipe("modular_arithmetic");
    CHECK(modular.shape.num_layers == 3);
    CHECK(modular.lr == 1e-3);
    CHECK(modular.clip == 1.0);
    CHECK(modular.curriculum_start == 11);
    validate(modular);
    CHECK(modular.steps == 20000);
    CHECK(modular.curriculum_steps == 16000);
    modular = default_recipe("modular_arithmetic");
    modular.steps = 100;
    validate(modular);
    CHECK(modular.curriculum_steps == 80);
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
