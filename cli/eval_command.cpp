// hqlt eval: a run's checkpoint on its task, accuracy by length bucket.
#include <cstdio>
#include <tuple>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "train/device_option.h"
#include "train/trainer.h"

namespace hqlt::cli {

namespace {

constexpr const char* kEvalUsage =
    "usage: hqlt eval --run DIR [--weights latest|best] [--split test|validation] [--examples N]\n"
    "                 [--lengths MIN-MAX] [--batch-size N] [--threads N] [--device cpu|cuda] [--json]\n"
    "  evaluates the run's latest checkpoint (or with --weights best the weights its test\n"
    "  scored, kept in best/ by --test-on best) on the run's task (its test split by default),\n"
    "  on the CPU unless --device cuda\n"
    "  and prints the accuracy by length bucket; with --json one JSON object per bucket:\n"
    "  {\"task\":..,\"length_min\":..,\"length_max\":..,\"accuracy\":..,\"count\":..}\n"
    "  --lengths MIN-MAX: parity and modular arithmetic at lengths L of your choice instead of\n"
    "  the split's (for example 13-21: between the training and the test lengths)\n";

}  // namespace

int eval(const Args& args) {
  std::string run_path, split_name = "test", weights = "latest";
  int64_t examples = 0, batch_size = 0;
  int threads = 0;
  bool json = false;
  train::LengthRange lengths;
  Device device = Device::cpu;
  ArgReader r("eval", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kEvalUsage, stdout);
      return 0;
    }
    if (r.is("--run")) run_path = r.value();
    else if (r.is("--split")) split_name = r.value();
    else if (r.is("--weights")) weights = r.value();
    else if (r.is("--examples")) examples = r.positive_int();
    else if (r.is("--batch-size")) batch_size = r.positive_int();
    else if (r.is("--threads")) threads = int(r.positive_int());
    else if (r.is("--json")) json = true;
    else if (r.is("--lengths")) std::tie(lengths.min, lengths.max) = r.int_range();  // checked by make_task
    else if (r.is("--device")) device = train::parse_device(r.value(), "eval");
    else r.unknown();
  }
  HQLT_CHECK(!run_path.empty(), "eval: --run DIR is required (a folder written by hqlt train)");
  HQLT_CHECK(split_name == "test" || split_name == "validation", "eval: --split must be test or validation, got '",
             split_name, "'");
  HQLT_CHECK(weights == "latest" || weights == "best", "eval: --weights must be latest or best, got '", weights, "'");
  const train::RunDir run{run_path};
  train::require_device(device, "eval");
  set_num_threads(threads);
  const train::TrainOptions options = train::read_run_options(run);
  const std::unique_ptr<train::Task> task = train::make_task(options, lengths);
  const std::shared_ptr<models::CausalLM> model =
      weights == "best" ? train::load_run_best(run, *task) : train::load_run_model(run, *task);
  model->to(device);
  const train::Split split = split_name == "test" ? train::Split::test : train::Split::validation;
  const train::EvalResult result =
      train::evaluate(*model, *task, split, examples ? examples : options.test_examples,
                      batch_size ? batch_size : options.batch_size);
  if (json) {
    std::fputs(train::bucket_json_lines(task->name(), result).c_str(), stdout);
  } else {
    std::printf("%s on %s (%s split, %lld examples): loss %.4f, accuracy %.2f%%\n", options.model.c_str(),
                task->name().c_str(), split_name.c_str(), (long long)result.accuracy.sequences, result.loss,
                100 * result.accuracy.token_accuracy());
    std::fputs(train::bucket_table(result).c_str(), stdout);
  }
  return 0;
}

}  // namespace hqlt::cli
