#pragma once
// A training run's folder:
//
//   train_options.json   the options that decide the run (train_options.h)
//   config.json          the resolved model config (reference format)
//   metrics.jsonl        one JSON object per log line (metrics_log.h)
//   checkpoint/          the latest checkpoint: config.json, model.safetensors (loadable by
//                        the reference) and training_state.safetensors (optimiser, step, data
//                        position); with --average-weights also average/ (config.json and
//                        model.safetensors of the averaged weights)
//   best/                --test-on best: the weights of the best validation
//   loss.png, accuracy.png, accuracy_by_length.png, test.json   at the end
//
// A checkpoint is three files that must belong together, so it is written whole into
// checkpoint.new/ and then swapped in with renames: checkpoint/ → checkpoint.old/,
// checkpoint.new/ → checkpoint/, then checkpoint.old/ is removed. A crash at any moment
// leaves a complete checkpoint/ or a complete checkpoint.old/, and open_checkpoint() puts
// the old one back in the second case.
#include <cstdint>
#include <functional>
#include <string>

#include "io/json.h"
#include "models/causal_lm.h"
#include "models/checkpoint.h"
#include "nn/adamw.h"
#include "train/tasks/task.h"
#include "train/train_options.h"

namespace hqlt::train {

struct RunDir {
  std::string path;
  std::string options() const { return path + "/train_options.json"; }
  std::string config() const { return path + "/config.json"; }
  std::string metrics() const { return path + "/metrics.jsonl"; }
  std::string checkpoint() const { return path + "/checkpoint"; }
  std::string best() const { return path + "/best"; }  // --test-on best: the weights tested
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// The swap above, for any folder: `fill` writes the new contents into `<live>.new/` (made
// empty first), which then replaces `live` by renames. repair_folder puts `<live>.old` back
// when such a swap stopped half-way, and returns `live`.
void replace_folder(const std::string& live, const std::function<void(const std::string& fresh)>& fill);
std::string repair_folder(const std::string& live);

// Writes model + optimiser + state (+ the averaged weights, when the run keeps them) as the
// run's checkpoint (atomically, see above).
void save_checkpoint(const RunDir& run, const models::CausalLM& model, const nn::AdamW& optimizer,
                     const models::TrainingState& state, const models::CausalLM* average = nullptr);

// The checkpoint folder to load from, after repairing an interrupted swap; throws when the
// run has no checkpoint ("no checkpoint in DIR: ...").
std::string open_checkpoint(const RunDir& run);

// The options the run in `run` was started with; "'DIR' is not a training run" without them.
TrainOptions read_run_options(const RunDir& run);

// The run's latest checkpoint (open_checkpoint) as a model, after checking that its
// vocabulary is the task's.
std::shared_ptr<models::CausalLM> load_run_model(const RunDir& run, const Task& task);

// --test-on best: the weights the run kept in best/ (those its test scored), after the same
// vocabulary check; an error when the run kept none.
std::shared_ptr<models::CausalLM> load_run_best(const RunDir& run, const Task& task);

// --average-weights: the averaged weights of the run's latest checkpoint, on `model`'s device.
std::shared_ptr<models::CausalLM> load_run_average(const RunDir& run, const models::CausalLM& model);

// A new folder runs/<task>-<model>-<YYYYmmdd-HHMMSS> (with -2, -3, ... if taken).
std::string new_run_path(const std::string& task, const std::string& model);

// Keeps only the metrics records with "step" <= step (rewriting the file atomically): a
// resumed run continues the log from its checkpoint without repeating steps. The test
// record goes too: it is written after the last checkpoint, so a run killed after writing
// it writes it again when resumed.
void truncate_metrics(const std::string& path, int64_t step);
// Keeps only the metrics records `keep` accepts (rewriting the file atomically; no file, no-op).
void filter_metrics(const std::string& path, const std::function<bool(const io::Json&)>& keep);

}  // namespace hqlt::train
