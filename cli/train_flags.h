#pragma once
// The command-line flags that set TrainOptions, shared by `hqlt train` and
// `hqlt experiment`. Defaults come from the task's recipe, so the task is found first
// (task_from_args) and the flags are read over default_recipe(task).
#include <string>

#include "cli/arg_reader.h"
#include "train/trainer.h"
#include "train/train_options.h"

namespace hqlt::cli {

// The value of --task in args, or `fallback` when absent.
std::string task_from_args(const Args& args, const std::string& fallback);

// Reads the option r is at into o; false when it is not a training option.
bool read_train_option(ArgReader& r, train::TrainOptions& o);

// `hqlt train`'s command line, read but not acted on: the options over the task's recipe
// and the run-control flags. Bad input throws one hqlt::Error naming the flag.
struct TrainCommand {
  train::TrainOptions options;
  std::string run_dir, resume_dir, device;
  train::RunControl control;
  bool help = false;  // --help: print the usage, nothing else
};
TrainCommand parse_train_command(const Args& args);

// The help text for those flags.
extern const char* const kTrainFlagsHelp;

}  // namespace hqlt::cli
