#pragma once
// What every `hqlt experiment` shares: the rows (one model each, trained with the same
// recipe), picking rows by name, and training one row under one seed in its own folder
// OUT/<row>/seed<S>/ — or reading it back when it has finished, or resuming it when it was
// interrupted — so that running the same experiment command again continues it.
#include <optional>
#include <string>
#include <vector>

#include "train/evaluate.h"
#include "train/run_dir.h"
#include "train/train_options.h"

namespace hqlt::cli {

struct Row {
  std::string name, model;
  std::vector<std::string> overrides;  // --set key=value for this row only
};

// `list`: comma-separated row names, empty for all; an unknown name is an error naming the
// known ones.
std::vector<Row> select_rows(const std::vector<Row>& rows, const std::string& list);

// A comma-separated list of positive integers ("4,8,16"), for `what` in error messages.
std::vector<int64_t> parse_int_list(const std::string& list, const std::string& what);

// One row under one seed.
struct SeedRun {
  train::RunDir run;
  train::TrainOptions options;  // the experiment's options with this row's model and seed
  train::EvalResult test;       // the run's final test evaluation
  double seconds = 0;           // training time recorded in the run's metrics
  double train_accuracy = 0;    // on the last logged training steps: did it fit at all?
};

// Trains (or resumes, or reads back) `row` under seed `seed` in OUT/<row>/seed<S>/; the
// label prefixes the progress lines. Empty when the run was interrupted (Ctrl-C): the
// caller stops and says how to continue.
std::optional<SeedRun> train_row(const train::TrainOptions& options, const Row& row, uint64_t seed,
                                 const std::string& out, const std::string& label);

}  // namespace hqlt::cli
