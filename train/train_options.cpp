#include "train/train_options.h"

#include <algorithm>

#include "engine/error.h"
#include "models/config_json.h"

namespace hqlt::train {

TrainOptions default_recipe(const std::string& task) {
  TrainOptions o;
  o.task = task;
  if (task == "parity" || task == "modular_arithmetic") {
    // §A.9 shape (lr warm-up, cosine to 1e-3·lr, wd 0.1 on everything, no clipping), sized
    // for a 2-core CPU: the paper's 20,000 steps of batch 1024 are ~500x this budget.
    o.steps = task == "parity" ? 1000 : 2000;
    o.batch_size = 128;
    o.lr = 3e-3;
    o.eval_interval = 100;
    o.eval_examples = 512;
    o.test_examples = 2048;
    if (task == "modular_arithmetic") {
      // The paper's shape for this task (3 layers; docs/math/tasks.md §A.9) and its learning
      // rate, gradients clipped at 1 (the task's yaml), and a length curriculum: training
      // starts on expressions of at most 5 numbers (L ≤ 11), and the longest length grows
      // to 39 over the first 16,000 of 20,000 steps of batch 128 — 2.56M sequences, 1/40 of
      // the paper's. At lr 3e-3, with 2 layers or without the curriculum, no model left
      // chance within 2000 steps; with it, DeltaNet fits each new length as it arrives and
      // carries it to longer ones (docs/results.md, "Modular arithmetic").
      o.shape.num_layers = 3;
      o.lr = 1e-3;
      o.clip = 1.0;
      o.steps = 20000;
      o.curriculum_steps = -1;  // 4/5 of the steps: 16,000
      o.curriculum_start = 11;
      o.eval_interval = 1000;
      o.checkpoint_interval = 1000;
    }
    if (task == "parity") {
      // The paper's shape of recipe (no curriculum, weight decay 0.1) with the reference
      // command line's initialisation range, 0.02 rather than its README's 0.006: the
      // larger weights leave the 50% plateau within a few hundred steps in most runs, where
      // at 0.006 most runs did not within 1000. What a run finds when it leaves the
      // plateau still varies with seed and thread count: most generalise to 96-100% of
      // lengths 40-256, some stay at chance, and only a few attempts in ten hold 99.5% on
      // their longest lengths. So the recipe searches (docs/math/tasks.md §E): the test takes
      // the best validation of the weights or of their moving average; a validation at 99.5%
      // is confirmed on 4096 more sequences by its worst length bucket (the best of many
      // validations on the same 1024 overstates itself, and one score over all lengths
      // hides a weak longest bucket); the run ends when a confirmed one has every bucket at
      // 99.5%, and an attempt that ends without one (or is at chance in its second half)
      // is followed by one from fresh weights, at most nine times. The measurements:
      // docs/results.md, "Parity".
      o.shape.initializer_range = 0.02;
      o.eval_examples = 1024;
      o.test_best = true;
      o.restarts = 9;
      o.restart_below = 0.995;
      o.average_decay = 0.99;
      o.confirm_examples = 4096;
    }
  } else if (task == "mqar") {
    // 63 keys, up to 32 pairs in 128 tokens: more pairs than a head's 32 key directions, so
    // the grid of `hqlt experiment mqar` reaches past a fast-weight state's room; a window
    // (chunk) of 32 gives the hybrids' KV memory a quarter of the training length.
    o.vocab_size = 128;
    o.mqar_train_pairs = 32;
    o.mqar_train_length = 128;
    o.shape.chunk_size = 32;
    o.steps = 1000;
    o.batch_size = 64;
    o.lr = 1e-3;
    o.eval_examples = 256;
    o.test_examples = 512;
  } else if (task == "text" || task == "tokens") {
    // §B.2's recipe shape at a laptop size.
    o.shape.hidden_size = 256;
    o.shape.num_layers = 4;
    o.shape.chunk_size = 64;
    o.shape.initializer_range = 0.02;
    o.seq_len = 256;
    o.steps = 2000;
    o.batch_size = 16;
    o.lr = 1e-3;
    o.final_lr_factor = 0.1;
    o.counting = nn::Counting::shifted;
    o.beta2 = 0.95;
    o.clip = 1.0;
    o.eval_interval = 200;
    o.eval_examples = 64;
    o.test_examples = 256;
  } else {
    make_task(task, TaskOptions{});  // throws listing the known tasks
  }
  return o;
}

namespace {

const char* decay_name(nn::Decay d) {
  switch (d) {
    case nn::Decay::constant: return "constant";
    case nn::Decay::cosine: return "cosine";
    case nn::Decay::linear: return "linear";
  }
  return "?";
}

nn::Decay parse_decay(const std::string& name) {
  if (name == "constant") return nn::Decay::constant;
  if (name == "cosine") return nn::Decay::cosine;
  if (name == "linear") return nn::Decay::linear;
  fail("unknown schedule '", name, "' (known: cosine, linear, constant)");
}

}  // namespace

bool parse_test_on(const std::string& value) {
  if (value == "best") return true;
  if (value == "last") return false;
  fail("--test-on must be last or best, got '", value, "'");
}

io::Json options_to_json(const TrainOptions& o) {
  io::Json j = io::Json::object();
  j.set("task", o.task);
  j.set("model", o.model);
  j.set("model_config_path", o.model_config_path);
  io::Json overrides = io::Json::array();
  for (const std::string& s : o.overrides) overrides.push_back(s);
  j.set("overrides", overrides);
  j.set("hidden_size", o.shape.hidden_size);
  j.set("num_layers", o.shape.num_layers);
  j.set("num_heads", o.shape.num_heads);
  j.set("chunk_size", o.shape.chunk_size ? io::Json(*o.shape.chunk_size) : io::Json());
  j.set("intermediate_size", o.shape.intermediate_size ? io::Json(*o.shape.intermediate_size) : io::Json());
  j.set("initializer_range", o.shape.initializer_range);
  j.set("data_path", o.data_path);
  j.set("seq_len", o.seq_len);
  j.set("token_width", o.token_width == TokenWidth::u16 ? 16 : 32);
  j.set("vocab_size", o.vocab_size);
  j.set("mqar_train_pairs", o.mqar_train_pairs);
  j.set("mqar_train_length", o.mqar_train_length);
  j.set("mqar_eval_pairs", o.mqar_eval_pairs);
  j.set("mqar_eval_length", o.mqar_eval_length);
  j.set("curriculum_steps", o.curriculum_steps);
  j.set("curriculum_start", o.curriculum_start);
  j.set("steps", o.steps);
  j.set("batch_size", o.batch_size);
  j.set("lr", o.lr);
  j.set("warmup_steps", o.warmup_steps);
  j.set("final_lr_factor", o.final_lr_factor);
  j.set("schedule", decay_name(o.decay));
  j.set("step_counting", o.counting == nn::Counting::plain ? "plain" : "shifted");
  j.set("weight_decay", o.weight_decay);
  j.set("beta2", o.beta2);
  j.set("clip", o.clip);
  j.set("seed", int64_t(o.seed));
  j.set("log_interval", o.log_interval);
  j.set("eval_interval", o.eval_interval);
  j.set("eval_examples", o.eval_examples);
  j.set("test_examples", o.test_examples);
  j.set("checkpoint_interval", o.checkpoint_interval);
  j.set("test_on", o.test_best ? "best" : "last");
  j.set("restarts", o.restarts);
  j.set("restart_below", o.restart_below);
  j.set("average_decay", o.average_decay);
  j.set("confirm_examples", o.confirm_examples);
  return j;
}

TrainOptions options_from_json(const io::Json& j) {
  HQLT_CHECK(j.is_object(), "train_options.json: expected a JSON object");
  TrainOptions o = default_recipe(j.at("task").as_string());
  o.model = j.value("model", o.model.c_str());
  o.model_config_path = j.value("model_config_path", "");
  o.overrides.clear();
  if (const io::Json* list = j.find("overrides"))
    for (const io::Json& s : list->as_array()) o.overrides.push_back(s.as_string());
  o.shape.hidden_size = j.value("hidden_size", o.shape.hidden_size);
  o.shape.num_layers = j.value("num_layers", o.shape.num_layers);
  o.shape.num_heads = j.value("num_heads", o.shape.num_heads);
  const io::Json* chunk = j.find("chunk_size");
  o.shape.chunk_size = chunk && !chunk->is_null() ? std::optional<int64_t>(chunk->as_int()) : std::nullopt;
  const io::Json* inter = j.find("intermediate_size");
  o.shape.intermediate_size = inter && !inter->is_null() ? std::optional<int64_t>(inter->as_int()) : std::nullopt;
  o.shape.initializer_range = j.value("initializer_range", o.shape.initializer_range);
  o.data_path = j.value("data_path", "");
  o.seq_len = j.value("seq_len", o.seq_len);
  o.token_width = j.value("token_width", int64_t(16)) == 32 ? TokenWidth::u32 : TokenWidth::u16;
  o.vocab_size = j.value("vocab_size", o.vocab_size);
  o.mqar_train_pairs = j.value("mqar_train_pairs", o.mqar_train_pairs);
  o.mqar_train_length = j.value("mqar_train_length", o.mqar_train_length);
  o.mqar_eval_pairs = j.value("mqar_eval_pairs", o.mqar_eval_pairs);
  o.mqar_eval_length = j.value("mqar_eval_length", o.mqar_eval_length);
  o.curriculum_steps = j.value("curriculum_steps", int64_t(0));  // runs from before it: none
  o.curriculum_start = j.value("curriculum_start", int64_t(0));
  o.steps = j.value("steps", o.steps);
  o.batch_size = j.value("batch_size", o.batch_size);
  o.lr = j.value("lr", o.lr);
  o.warmup_steps = j.value("warmup_steps", o.warmup_steps);
  o.final_lr_factor = j.value("final_lr_factor", o.final_lr_factor);
  o.decay = parse_decay(j.value("schedule", decay_name(o.decay)));
  o.counting = j.value("step_counting", "plain") == std::string("shifted") ? nn::Counting::shifted : nn::Counting::plain;
  o.weight_decay = j.value("weight_decay", o.weight_decay);
  o.beta2 = j.value("beta2", o.beta2);
  o.clip = j.value("clip", o.clip);
  o.test_best = parse_test_on(j.value("test_on", "last"));  // runs from before it: last
  o.restarts = j.value("restarts", int64_t(0));  // runs from before it: none
  o.restart_below = j.value("restart_below", o.restart_below);
  o.average_decay = j.value("average_decay", 0.0);  // runs from before it: none
  o.confirm_examples = j.value("confirm_examples", int64_t(0));  // runs from before it: none
  o.seed = uint64_t(j.value("seed", int64_t(o.seed)));
  o.log_interval = j.value("log_interval", o.log_interval);
  o.eval_interval = j.value("eval_interval", o.eval_interval);
  o.eval_examples = j.value("eval_examples", o.eval_examples);
  o.test_examples = j.value("test_examples", o.test_examples);
  o.checkpoint_interval = j.value("checkpoint_interval", o.checkpoint_interval);
  validate(o);
  return o;
}

std::unique_ptr<Task> make_task(const TrainOptions& o, LengthRange eval_lengths) {
  TaskOptions t;
  t.eval_lengths = eval_lengths;
  t.seed = o.seed;
  t.data_path = o.data_path;
  t.seq_len = o.seq_len;
  t.token_width = o.token_width;
  t.vocab_size = o.vocab_size;
  t.curriculum_examples = uint64_t(o.curriculum_steps) * uint64_t(o.batch_size);
  t.curriculum_start = o.curriculum_start;
  if (o.task == "mqar" && o.vocab_size > 0) t.mqar.vocab_size = o.vocab_size;
  t.mqar.train_pairs_min = std::min<int64_t>(t.mqar.train_pairs_min, o.mqar_train_pairs);
  t.mqar.train_pairs_max = o.mqar_train_pairs;
  t.mqar.train_length = o.mqar_train_length;
  t.mqar.eval_pairs = o.mqar_eval_pairs;
  t.mqar.eval_length = o.mqar_eval_length;
  if ((o.task == "text" || o.task == "tokens") && o.data_path.empty())
    fail("task '", o.task, "' needs a data file: --data PATH");
  if (o.task == "tokens" && o.vocab_size <= 0) {
    HQLT_CHECK(!o.model_config_path.empty(), "task 'tokens' needs the vocabulary size: --vocab-size N or --model-config");
    t.vocab_size = models::read_config_file(o.model_config_path).config.vocab_size;
  }
  return make_task(o.task, t);
}

models::ModelConfig make_model_config(const TrainOptions& o, int64_t task_vocab) {
  models::ModelConfig config;
  if (!o.model_config_path.empty()) config = models::read_config_file(o.model_config_path).config;
  else config = named_model_config(o.model, task_vocab, o.shape);
  config = apply_overrides(config, o.overrides);
  HQLT_CHECK(config.vocab_size == task_vocab, "vocab mismatch: the model has vocab_size ", config.vocab_size,
             " but task '", o.task, "' has ", task_vocab, " tokens");
  return config;
}

nn::Schedule make_schedule(const TrainOptions& o) {
  nn::Schedule s;
  s.peak_lr = o.lr;
  s.floor_lr = o.lr * o.final_lr_factor;
  s.warmup_steps = o.warmup_steps;
  s.decay_end = o.steps;
  s.decay = o.decay;
  s.counting = o.counting;
  s.validate();
  return s;
}

void validate(TrainOptions& o) {
  auto positive = [](const char* name, double v) { HQLT_CHECK(v > 0, name, " must be > 0, got ", v); };
  auto non_negative = [](const char* name, double v) { HQLT_CHECK(v >= 0, name, " must be >= 0, got ", v); };
  positive("--steps", double(o.steps));
  positive("--batch-size", double(o.batch_size));
  positive("--lr", o.lr);
  if (o.warmup_steps < 0) o.warmup_steps = o.steps / 10;
  HQLT_CHECK(o.warmup_steps <= o.steps, "--warmup (", o.warmup_steps, ") must not exceed --steps (", o.steps, ")");
  HQLT_CHECK(o.final_lr_factor >= 0 && o.final_lr_factor <= 1, "--final-lr-factor must be in [0, 1], got ",
             o.final_lr_factor);
  non_negative("--weight-decay", o.weight_decay);
  HQLT_CHECK(o.beta2 > 0 && o.beta2 < 1, "--beta2 must be in (0, 1), got ", o.beta2);
  non_negative("--clip", o.clip);
  positive("--log-interval", double(o.log_interval));
  non_negative("--eval-interval", double(o.eval_interval));
  positive("--eval-examples", double(o.eval_examples));
  positive("--test-examples", double(o.test_examples));
  non_negative("--checkpoint-interval", double(o.checkpoint_interval));
  positive("--seq-len", double(o.seq_len));
  if (o.curriculum_steps < 0) o.curriculum_steps = o.steps * 4 / 5;
  HQLT_CHECK(o.curriculum_steps <= o.steps, "--curriculum (", o.curriculum_steps, ") must not exceed --steps (",
             o.steps, ")");
  positive("--d-model", double(o.shape.hidden_size));
  positive("--layers", double(o.shape.num_layers));
  positive("--heads", double(o.shape.num_heads));
  positive("--init-range", o.shape.initializer_range);
  if (o.shape.chunk_size) positive("--chunk-size", double(*o.shape.chunk_size));
  non_negative("--restarts", double(o.restarts));
  HQLT_CHECK(o.restart_below >= 0 && o.restart_below <= 1, "--restart-below must be in [0, 1], got ", o.restart_below);
  HQLT_CHECK(o.restarts == 0 || o.test_best, "--restarts needs --test-on best (or --restarts 0): the test takes the best "
             "validation of all attempts, not the last attempt's last step");
  HQLT_CHECK(o.average_decay >= 0 && o.average_decay < 1, "--average-weights must be in [0, 1), got ", o.average_decay);
  non_negative("--confirm-examples", double(o.confirm_examples));
  HQLT_CHECK(o.confirm_examples == 0 || o.test_best, "--confirm-examples needs --test-on best (or --confirm-examples 0): "
             "it confirms the candidates for the tested weights");
  HQLT_CHECK(o.device == "cpu" || o.device == "cuda", "--device must be cpu or cuda, got '", o.device, "'");
}

}  // namespace hqlt::train
