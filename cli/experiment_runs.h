#pragma once
// What every `hqlt experiment` shares: the rows (one model each, trained with the same
// recipe), picking rows by name, and training one row under one seed in its own folder
// OUT/<row>/seed<S>/ — or reading it back when it has finished, or resuming it when it was
// interrupted — so that running the same experiment command again continues it.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/arg_reader.h"

#include "train/evaluate.h"
#include "train/run_dir.h"
#include "train/train_options.h"

namespace hqlt::cli {

struct Row {
  std::string name, model;
  std::vector<std::string> overrides;  // --set key=value for this row only
  // This row's share of the recipe's steps (and of an explicit curriculum): below 1 for a
  // row shown, with a longer run, not to fit the task at this size, so the experiment's
  // time goes where it changes the result.
  double budget = 1;
};

// `list`: comma-separated row names, empty for all; an unknown name is an error naming the
// known ones.
std::vector<Row> select_rows(const std::vector<Row>& rows, const std::string& list);

// "a,b,c" -> {"a", "b", "c"} (empty items kept: "" -> {""}).
std::vector<std::string> split_commas(const std::string& list);

// A comma-separated list of positive integers ("4,8,16"), for `what` in error messages.
std::vector<int64_t> parse_int_list(const std::string& list, const std::string& what);

// One row under one seed.
struct SeedRun {
  train::RunDir run;
  train::TrainOptions options;  // the experiment's options with this row's model and seed
  train::EvalResult test;       // the run's final test evaluation
  double seconds = 0;           // training time recorded in the run's metrics
  double train_accuracy = 0;    // on the last logged training steps: did it fit at all?
  int64_t attempts = 1;         // fresh starts the run made, the first included (train/trainer.h)
};

// What every experiment reads from its command line.
struct ExperimentArgs {
  train::TrainOptions options;  // the task's recipe, changed by the training flags given
  std::string out;              // --out: the experiment folder
  std::string rows;             // --rows: a comma-separated subset, empty for all
  int64_t seeds = 1;            // --seeds: seeds per row (--seed S, S+1, ...)
  bool help = false;            // -h / --help was given: the usage has been printed
};

// Reads `args` into `e` (whose fields hold the experiment's defaults): --out, --rows,
// --seeds, -h/--help (prints `usage` and the training flags), every training flag, and the
// experiment's own flags through `extra` (true when it took the option). --task, --model
// and --model-config are refused: the experiment sets them.
void read_experiment_args(const Args& args, const char* usage, ExperimentArgs& e,
                          const std::function<bool(ArgReader&)>& extra = {});

// Trains (or resumes, or reads back) `row` under seed `seed` in OUT/<row>/seed<S>/; the
// label prefixes the progress lines. Empty when the run was interrupted (Ctrl-C): the
// caller stops and says how to continue.
std::optional<SeedRun> train_row(const train::TrainOptions& options, const Row& row, uint64_t seed,
                                 const std::string& out, const std::string& label);

// train_row for every row and seed in order, then `done(row index, seed index, run)` on each
// (with the threads set back to the experiment's, for any evaluation `done` runs). False
// when a run was interrupted: the caller then stops (exit code 130).
bool for_each_run(const ExperimentArgs& e, const std::vector<Row>& rows,
                  const std::function<void(size_t, int64_t, const SeedRun&)>& done);

}  // namespace hqlt::cli
