#pragma once
// TrainOptions: everything that decides a training run, with each task's default recipe.
// A run folder keeps them as train_options.json, so `hqlt train --resume DIR` and
// `hqlt eval --run DIR` rebuild exactly the same task and model.
//
// The synthetic recipes follow docs/math/tasks.md §A.9 (AdamW with weight decay on every parameter,
// linear warm-up then cosine decay to 1e-3 of the peak, no clipping, validation every 100
// steps) at a budget sized for a 2-core CPU; docs/results.md says what the
// paper ran and what we changed. The text recipes follow §B.2's shape (β2 0.95, clipping 1.0,
// warm-up then cosine to 0.1 of the peak with the shifted step counting).
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "nn/schedule.h"
#include "train/model_names.h"
#include "train/tasks/registry.h"

namespace hqlt::train {

struct TrainOptions {
  // What to train.
  std::string task = "parity";
  std::string model = "sync_hqlt";
  std::string model_config_path;          // --model-config: a reference config.json instead
  std::vector<std::string> overrides;     // --set key=value, in order
  ModelShape shape;

  // Data.
  std::string data_path;                  // text, tokens
  int64_t seq_len = 256;                  // text, tokens
  TokenWidth token_width = TokenWidth::u16;
  int64_t vocab_size = 0;                 // tokens: the tokenizer's vocabulary (0: from --model-config);
                                          // mqar: keys and values (0: 64)
  int64_t mqar_train_pairs = 16, mqar_train_length = 128;  // mqar training: 4 .. pairs at length
  int64_t mqar_eval_pairs = 16, mqar_eval_length = 128;
  int64_t curriculum_steps = 0;           // parity, modular_arithmetic: the longest training length
                                          // grows from the shortest to the longest over these
                                          // steps (0: off; -1: 4/5 of the steps, resolved by validate)
  int64_t curriculum_start = 0;           // the longest training length at step 0 (0: the shortest)

  // Optimisation.
  int64_t steps = 1000;
  int64_t batch_size = 256;
  double lr = 1e-3;
  int64_t warmup_steps = -1;              // -1: a tenth of the steps (resolved by validate)
  double final_lr_factor = 1e-3;          // the schedule's floor, as a fraction of lr
  nn::Decay decay = nn::Decay::cosine;
  nn::Counting counting = nn::Counting::plain;
  double weight_decay = 0.1;
  double beta2 = 0.999;
  double clip = 0;                        // max global grad norm; 0: no clipping
  uint64_t seed = 1;

  // Bookkeeping.
  int64_t log_interval = 10;
  int64_t eval_interval = 100;            // 0: only at the end
  int64_t eval_examples = 512;            // validation examples per evaluation
  int64_t test_examples = 2048;           // test examples in the final evaluation
  int64_t checkpoint_interval = 500;      // 0: only at the end (and on Ctrl-C)
  bool test_best = false;                 // test the weights of the best validation (kept in
                                          // best/): the highest accuracy for the answer tasks,
                                          // else the lowest loss; not the last step's
  // Fresh starts (trainer.h, "Attempts"): up to `restarts` more attempts, each from new
  // weights with the whole schedule again, while the best validation accuracy is below
  // `restart_below`. Needs test_best (the test takes the best of all attempts).
  int64_t restarts = 0;
  double restart_below = 0.99;
  // Confirmation (trainer.h): a validation whose accuracy reaches `restart_below` is scored
  // again on this many further validation examples, by its worst length bucket; a confirmed
  // candidate outranks any unconfirmed one, and one whose worst bucket reaches
  // `restart_below` ends the run. 0: none. Needs test_best and a task judged by its answers.
  int64_t confirm_examples = 0;
  // An average of the weights (nn/weight_average.h) with this decay, validated beside the
  // trained weights at every validation; with test_best either is a candidate for best/.
  // 0: none.
  double average_decay = 0;

  // Not saved: how this process runs, not what it computes.
  int threads = 0;
  std::string device = "cpu";
};

// The default recipe of a task (unknown names are an error listing the known tasks).
TrainOptions default_recipe(const std::string& task);

// --test-on's value (also train_options.json's "test_on"): "best" → true, "last" → false,
// anything else an error naming both.
bool parse_test_on(const std::string& value);

// The options that decide the run's numbers, as saved in train_options.json.
io::Json options_to_json(const TrainOptions& options);
TrainOptions options_from_json(const io::Json& json);

// The task these options describe (reads the data file for text/tokens); `eval_lengths`,
// when set, replaces the validation/test lengths of parity and modular arithmetic.
std::unique_ptr<Task> make_task(const TrainOptions& options, LengthRange eval_lengths = {});
// The model config these options describe, for a task of this vocabulary: a named model or
// --model-config, then --set overrides; a vocabulary mismatch with the task is an error.
models::ModelConfig make_model_config(const TrainOptions& options, int64_t task_vocab);

// The learning-rate schedule of the options.
nn::Schedule make_schedule(const TrainOptions& options);

// Range checks with one clear message per problem ("--lr must be > 0, got -1"); resolves
// warmup_steps = -1 to a tenth of the steps.
void validate(TrainOptions& options);

}  // namespace hqlt::train
