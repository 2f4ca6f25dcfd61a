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
    "--resume DIR continues the run bit for bit (with any --threads; the same device); --device\n"
    "moves it to the other device (then it agrees with an unbroken run up to rounding).\n"
    "\n"
    "  --run-dir DIR          the run folder (must not hold a run yet)\n"
    "  --resume DIR           continue the run in DIR from its checkpoint\n"
    "  --stop-at N            stop after step N with a checkpoint, as Ctrl-C would\n"
    "  --quiet                no live progress line\n";

}  // namespace

TrainCommand parse_train_command(const Args& args) {
  TrainCommand c;
  c.options = train::default_recipe(task_from_args(args, "parity"));
  const bool resuming = std::find(args.begin(), args.end(), "--resume") != args.end();
  ArgReader r("train", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      c.help = true;
      return c;
    }
    if (r.is("--run-dir")) c.run_dir = r.value();
    else if (r.is("--resume")) c.resume_dir = r.value();
    else if (r.is("--stop-at")) c.control.stop_at = r.positive_int();
    else if (r.is("--quiet")) c.control.progress = false;
    else if (r.is("--threads")) c.options.threads = int(r.positive_int());
    else if (resuming && r.is("--device")) train::parse_device(c.device = r.value(), "train");
    else if (resuming && r.option().rfind("--", 0) == 0 && read_train_option(r, c.options))
      fail("train: --resume continues a run with its saved options; only --threads, --device, --stop-at and "
           "--quiet may be given with it, not ", r.option());
    else if (!read_train_option(r, c.options)) r.unknown();
  }
  HQLT_CHECK(c.resume_dir.empty() || c.run_dir.empty(), "train: give either --resume DIR or --run-dir DIR, not both");
  return c;
}

int train(const Args& args) {
  TrainCommand c = parse_train_command(args);
  if (c.help) {
    std::printf("%s\n%s", kTrainUsage, kTrainFlagsHelp);
    return 0;
  }
  train::TrainReport report;
  if (!c.resume_dir.empty()) {
    report = train::train_resume(train::RunDir{c.resume_dir}, c.options.threads, c.control, c.device);
  } else {
    if (c.run_dir.empty()) c.run_dir = train::new_run_path(c.options.task, c.options.model);
    report = train::train_new(c.options, train::RunDir{c.run_dir}, c.control);
  }
  return report.interrupted && c.control.stop_at == 0 ? 130 : 0;
}

}  // namespace hqlt::cli
