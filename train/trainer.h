#pragma once
// The training loop of `hqlt train` (and of each model in `hqlt experiment`):
//
//   for each step: batch of examples [k·B, (k+1)·B) of the train split → logits → masked
//   cross-entropy (ignore −1, docs/math/tasks.md §A.8) → backward → optional clipping → AdamW
//   at the schedule's lr → every log_interval a metrics line, every eval_interval a
//   validation pass, every checkpoint_interval a checkpoint
//
// then a final checkpoint, the test evaluation by length, test.json and the plots.
//
// A step whose loss is NaN or infinite is skipped (no update, the schedule does not
// advance; the batch is consumed), as the reference trainer does (§A.9).
//
// Attempts (--restarts N, --restart-below X, with --test-on best): when an attempt ends with
// the run's target not reached (a best validation accuracy of X, or a confirmed one below),
// or is below 90% on training batches at a validation in its second half (it has not left
// chance, or fell back to it), the run starts again from fresh weights with a fresh
// optimiser and the whole schedule, up to N times; the data goes on. Parity has long,
// seed-dependent plateaus at chance and fits that generalise to some lengths and not others
// (docs/results.md); what a run finds is luck, a search over starts is not. The test takes
// the best validation over all attempts. Steps in the metrics log count across attempts, and
// each fresh start is a "restart" record (docs/math/tasks.md §E.1).
//
// Averaged weights (--average-weights d): a moving average of the weights, a ← d·a + (1 − d)·w
// after every step, restarted with each attempt, is validated beside the weights
// ("validation_average" records) and is a candidate for best/ like them (§E.2, §E.3).
//
// Confirmation (--confirm-examples M): a candidate whose validation accuracy reaches X is
// scored again on validation examples [eval_examples, eval_examples + M) by its worst length
// bucket ("confirmation" records); confirmed candidates outrank the others, and the first
// whose worst bucket reaches X ends the run there (§E.4).
//
// Resuming: examples are a pure function of their index and the update is deterministic,
// so restoring the parameters, AdamW's moments, the step and the data
// position reproduces the uninterrupted run bit for bit (any --threads: no sum in the
// engine takes its order from the thread count).
#include <cstdint>
#include <string>

#include "train/evaluate.h"
#include "train/run_dir.h"
#include "train/train_options.h"

namespace hqlt::train {

struct RunControl {
  int64_t stop_at = 0;       // stop (with a checkpoint) once this many steps are done; 0: never
  bool progress = true;      // the live progress line on stderr
  bool summary = true;       // print the test table and where the plots are at the end
  std::string label;         // progress-line prefix (the experiment names its models)
};

struct TrainReport {
  int64_t step = 0;          // optimiser steps completed
  bool finished = false;     // all steps done and the test evaluation written
  bool interrupted = false;  // stopped early by Ctrl-C (or stop_at), with a checkpoint saved
  double seconds = 0;        // training wall time of the run, across resumes
  EvalResult test;           // the final test evaluation (when finished)
  int64_t tested_step = 0;   // the step whose weights were tested (the last, or with
                             // --test-on best the one of the best validation)
  int64_t attempts = 1;      // fresh starts made, the first included (see "Attempts" above)
};

// Starts a new run in `run` (an existing run there is an error: resume it instead).
TrainReport train_new(const TrainOptions& options, const RunDir& run, const RunControl& control = {});
// Continues the run in `run` from its checkpoint with the options it was started with;
// `device` ("cpu" or "cuda"), when given, continues it on that device instead.
TrainReport train_resume(const RunDir& run, int threads, const RunControl& control = {},
                         const std::string& device = "");

// The final evaluation's JSON, one object per length bucket, as `hqlt eval --json` prints:
// {"task":..,"length_min":..,"length_max":..,"accuracy":..,"count":..}.
std::string bucket_json_lines(const std::string& task, const EvalResult& result);
// The same as a readable table.
std::string bucket_table(const EvalResult& result);

}  // namespace hqlt::train
