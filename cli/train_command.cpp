// hqlt train: one training run, start to finish (train/trainer.h), or the rest of one.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "engine/error.h"
#include "train/device_option.h"
#include "train/trainer.h"

namespace hqlt::cli {

namespace {

constexpr const char* kTrainUsage =
    "usage: hqlt train [--task T] [--model M] [--run-dir DIR] [options]\n"
    "       hqlt train --resume DIR [--threads N] [--device cpu|cuda]\n"
    "\n"
    "Trains a model on a task and writes everything into the run folder (default: a new\n"
    "folder under runs/): train_options.json, config.json, metrics.jsonl, checkpoint/,\n"
    "loss.png, accuracy.png, accuracy_by_length.png and test.json. With no options it trains\n"
    "Synchronous HQLT on parity with the task's default recipe. Ctrl-C saves a checkpoint;\n"
    "--resume DIR continues the run bit for bit (use the same --threads and device); --device\n"
    "moves it to the other device (then it agrees with an unbroken run up to rounding).\n"
    "\n"
    "  --run-dir DIR          the run folder (must not hold a run yet)\n"
    "  --resume DIR           continue the run in DIR from its checkpoint\n"
    "  --stop-at N            stop after step N with a checkpoint, as Ctrl-C would\n"
    "  --quiet                no live progress line\n";

}  // namespace

int train(const Args& args) {
  train::TrainOptions options = train::default_recipe(task_from_args(args, "parity"));
  std::string run_dir, resume_dir, device;
  train::RunControl control;
  const bool resuming = std::find(args.begin(), args.end(), "--resume") != args.end();
  ArgReader r("train", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::printf("%s\n%s", kTrainUsage, kTrainFlagsHelp);
      return 0;
    }
    if (r.is("--run-dir")) run_dir = r.value();
    else if (r.is("--resume")) resume_dir = r.value();
    else if (r.is("--stop-at")) control.stop_at = r.positive_int();
    else if (r.is("--quiet")) control.progress = false;
    else if (r.is("--threads")) options.threads = int(r.positive_int());
    else if (resuming && r.is("--device")) train::parse_device(device = r.value(), "train");
    else if (resuming && r.option().rfind("--", 0) == 0 && read_train_option(r, options))
      fail("train: --resume continues a run with its saved options; only --threads, --device, --stop-at and "
           "--quiet may be given with it, not ", r.option());
    else if (!read_train_option(r, options)) r.unknown();
  }
  train::TrainReport report;
  if (!resume_dir.empty()) {
    HQLT_CHECK(run_dir.empty(), "train: give either --resume DIR or --run-dir DIR, not both");
    report = train::train_resume(train::RunDir{resume_dir}, options.threads, control, device);
  } else {
    if (run_dir.empty()) run_dir = train::new_run_path(options.task, options.model);
    report = train::train_new(options, train::RunDir{run_dir}, control);
  }
  return report.interrupted && control.stop_at == 0 ? 130 : 0;
}

}  // namespace hqlt::cli
