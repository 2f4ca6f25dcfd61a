#include "train/trainer.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "models/config_json.h"
#include "nn/clip.h"
#include "nn/weight_average.h"
#include "ops/loss/cross_entropy.h"
#include "train/device_option.h"
#include "train/interrupt.h"
#include "train/metrics_log.h"
#include "train/numerical_faults.h"
#include "train/plot.h"

namespace hqlt::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Everything one run holds while it trains.
struct Session {
  TrainOptions options;
  RunDir run;
  std::unique_ptr<Task> task;
  std::shared_ptr<models::CausalLM> model;
  std::shared_ptr<models::CausalLM> average;  // --average-weights: the weights' moving average
  std::unique_ptr<nn::AdamW> optimizer;
  nn::Schedule schedule;
  models::TrainingState state;
  int64_t batches_consumed = 0;  // the data position: train examples [0, batches·B) are used
  int64_t skipped_steps = 0;
  // The steps since the last train record, whose loss and accuracy it will average; kept in
  // checkpoints, so a run resumed mid-window logs the same averages as an unbroken one.
  double window_loss_sum = 0;
  int64_t window_steps = 0;
  Accuracy window_acc;
  double seconds_before = 0;     // training time of earlier processes of this run
  // Attempts (trainer.h): the fresh start this is (0: the first), the step it began at (its
  // schedule counts from there) and the training accuracy of its last logged window.
  int64_t attempt = 0;
  int64_t attempt_start = 0;
  double last_train_accuracy = 0;
  Clock::time_point started = Clock::now();
  double seconds() const { return seconds_before + std::chrono::duration<double>(Clock::now() - started).count(); }
};

// A number the run saved in its training state (models::TrainingState::extra). A missing
// or malformed one means a damaged checkpoint, which is said as such rather than
// surfacing as a bare conversion error; `fallback` serves keys older checkpoints lack.
template <typename T>
T saved_number(const Session& s, const std::string& key, std::optional<T> fallback = std::nullopt) {
  const auto it = s.state.extra.find(key);
  if (it == s.state.extra.end() && fallback) return *fallback;
  T value{};
  const std::string& text = it == s.state.extra.end() ? std::string() : it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  HQLT_CHECK(it != s.state.extra.end() && ec == std::errc() && end == text.data() + text.size(), "'",
             s.run.checkpoint(), "/training_state.safetensors': the saved '", key, "' is ",
             it == s.state.extra.end() ? "missing" : "not a number ('" + text + "')", "; the checkpoint is damaged");
  return value;
}

// A double as text that reads back to the same bits (for the training state's extras).
std::string exact_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

void make_optimizer(Session& s) {
  nn::AdamWOptions adam;
  adam.lr = s.options.lr;
  adam.beta2 = s.options.beta2;
  // §A.9 / §B.2: the reference trainers decay every parameter.
  s.optimizer = std::make_unique<nn::AdamW>(nn::decay_groups(*s.model, s.options.weight_decay, true), adam);
}

// Puts the model on the run's device; call before make_optimizer (the optimiser holds the
// parameter tensors). Initial values are drawn on the CPU either way, so a run starts from
// the same weights on both devices.
void place_model(Session& s) {
  const Device device = parse_device(s.options.device, "train");
  require_device(device, "train");
  s.model->to(device);
}

// --average-weights: the average starts as a copy of the weights (at the run's start and at
// each fresh start). It lives on the model's device; call after place_model.
void start_average(Session& s) {
  if (s.options.average_decay == 0) return;
  Generator unused{0, 0};  // the copy's initial draw is overwritten at once
  s.average = std::make_shared<models::CausalLM>(s.model->config(), unused);
  s.average->to(s.model->device());
  s.average->load_state_dict(s.model->state_dict());
  s.average->eval();
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  return buf;
}

std::string format_rate(double tokens_per_s) {
  char buf[32];
  if (tokens_per_s >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", tokens_per_s / 1e6);
  else if (tokens_per_s >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", tokens_per_s / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", tokens_per_s);
  return buf;
}

// Plots from the metrics log: loss and accuracy against step, train and validation.
void write_curves(const Session& s) {
  Series train_loss{"train", {}, {}}, val_loss{"validation", {}, {}}, avg_loss{"validation, average", {}, {}};
  Series train_acc{"train", {}, {}}, val_acc{"validation", {}, {}}, avg_acc{"validation, average", {}, {}};
  for (const io::Json& r : read_metrics(s.run.metrics())) {
    const std::string split = r.value("split", "");
    const double step = double(r.value("step", int64_t(0)));
    Series* loss = split == "train"                ? &train_loss
                   : split == "validation"         ? &val_loss
                   : split == "validation_average" ? &avg_loss
                                                   : nullptr;
    Series* acc = split == "train"                ? &train_acc
                  : split == "validation"         ? &val_acc
                  : split == "validation_average" ? &avg_acc
                                                  : nullptr;
    if (!loss) continue;
    if (const io::Json* v = r.find("loss"); v && v->is_number()) {
      loss->x.push_back(step);
      loss->y.push_back(v->as_double());
    }
    if (const io::Json* v = r.find("accuracy"); v && v->is_number()) {
      acc->x.push_back(step);
      acc->y.push_back(100 * v->as_double());
    }
  }
  const std::string what = s.task->name() + " / " + s.options.model;
  std::vector<Series> losses{train_loss, val_loss}, accuracies{train_acc, val_acc};
  if (!avg_loss.x.empty()) {
    losses.push_back(avg_loss);
    accuracies.push_back(avg_acc);
  }
  write_line_plot(PlotSpec{"loss: " + what, "step", "cross-entropy (nats)", true, losses}, s.run.file("loss.png"));
  write_line_plot(PlotSpec{"accuracy: " + what, "step", "accuracy (%)", false, accuracies},
                  s.run.file("accuracy.png"));
}

void write_length_plot(const Session& s, const EvalResult& test) {
  if (test.buckets.size() < 2) return;
  Series series{s.options.model, {}, {}};
  for (const LengthBucket& b : test.buckets) {
    series.x.push_back(0.5 * double(b.length_min + b.length_max));
    series.y.push_back(100 * b.accuracy());
  }
  write_line_plot(PlotSpec{"test accuracy by length: " + s.task->name(), "sequence length",
                           "accuracy (%)", false, {series}},
                  s.run.file("accuracy_by_length.png"));
}

io::Json test_json(const Session& s, const EvalResult& test, int64_t tested_step) {
  io::Json j = io::Json::object();
  j.set("task", s.task->name());
  j.set("model", s.options.model);
  j.set("step", s.state.step);
  j.set("tested_step", tested_step);
  if (s.options.test_best) {
    const auto which = s.state.extra.find("best_weights");  // runs from before the average: trained
    j.set("tested_weights", which == s.state.extra.end() ? std::string("trained") : which->second);
    if (s.state.extra.count("best_confirmed_worst_bucket")) {
      io::Json confirmed = io::Json::object();
      confirmed.set("examples", s.options.confirm_examples);
      confirmed.set("accuracy", saved_number<double>(s, "best_confirmed_accuracy"));
      confirmed.set("worst_bucket", saved_number<double>(s, "best_confirmed_worst_bucket"));
      j.set("confirmed", confirmed);
    }
  }
  j.set("attempts", s.attempt + 1);
  j.set("loss", test.loss);
  j.set("accuracy", test.accuracy.token_accuracy());
  j.set("sequence_accuracy", test.accuracy.sequence_accuracy());
  j.set("count", test.accuracy.sequences);
  io::Json buckets = io::Json::array();
  for (const LengthBucket& b : test.buckets) {
    io::Json o = io::Json::object();
    o.set("length_min", b.length_min);
    o.set("length_max", b.length_max);
    o.set("accuracy", b.accuracy());
    o.set("count", b.sequences);
    o.set("correct", b.correct);
    o.set("supervised", b.supervised);
    buckets.push_back(o);
  }
  j.set("buckets", buckets);
  return j;
}

// --test-on best: after a validation better than any before, the weights it validated (the
// trained ones or their average, `which`) go to best/ and its loss, accuracy and step to
// the training state, so a resumed run keeps comparing against them. Better means a higher
// accuracy (a lower loss on a tie) for the tasks judged by their answers: there the loss of
// a model right on 97% of the long test lengths can be above chance's, dominated by the few
// answers it gets confidently wrong, and lowest-loss selection once tested a chance-level
// step instead. Elsewhere (text) better is a lower loss. With --confirm-examples a candidate
// that was confirmed (`confirmed`: its score on the confirmation set) outranks every one
// that was not, and confirmed candidates are ranked by their worst bucket there, then by
// their accuracy there (§E.4). Selecting on validation is fair to the test: the two splits
// are drawn apart (docs/math/tasks.md §A.6, §E.3).
void keep_if_best(Session& s, const EvalResult& val, const EvalResult* confirmed, const models::CausalLM& weights,
                  const char* which) {
  if (!s.options.test_best) return;
  auto& extra = s.state.extra;
  const double accuracy = val.accuracy.token_accuracy();
  if (extra.count("best_loss")) {
    const bool best_confirmed = extra.count("best_confirmed_worst_bucket") > 0;
    if (best_confirmed && !confirmed) return;
    bool better = false;
    if (confirmed && best_confirmed) {
      const double worst = worst_bucket_accuracy(*confirmed), best_worst = saved_number<double>(s, "best_confirmed_worst_bucket");
      better = worst > best_worst ||
               (worst == best_worst && confirmed->accuracy.token_accuracy() > saved_number<double>(s, "best_confirmed_accuracy"));
    } else if (confirmed) {
      better = true;
    } else {
      const double best_loss = saved_number<double>(s, "best_loss");
      // Runs from before accuracy selection saved no best_accuracy; they go on comparing losses.
      const bool by_accuracy = s.task->judged_by_answers() && extra.count("best_accuracy");
      const double best_accuracy = by_accuracy ? saved_number<double>(s, "best_accuracy") : 0.0;
      better = by_accuracy ? accuracy > best_accuracy || (accuracy == best_accuracy && val.loss < best_loss)
                           : val.loss < best_loss;
    }
    if (!better) return;
  }
  models::save_pretrained(weights, s.run.best());
  extra["best_weights"] = which;
  extra["best_loss"] = exact_text(val.loss);
  extra["best_accuracy"] = exact_text(accuracy);
  extra["best_step"] = std::to_string(s.state.step);
  if (confirmed) {
    extra["best_confirmed_worst_bucket"] = exact_text(worst_bucket_accuracy(*confirmed));
    extra["best_confirmed_accuracy"] = exact_text(confirmed->accuracy.token_accuracy());
  }
}

// Loads best/'s weights into the model for the test; returns the step they come from.
int64_t restore_best(Session& s) {
  const auto best = load_run_best(s.run, *s.task);
  nn::StateDict weights = best->state_dict();
  for (auto& [name, tensor] : weights) tensor = tensor.to(s.model->device());
  s.model->load_state_dict(weights);
  return saved_number<int64_t>(s, "best_step");
}

void checkpoint(Session& s) {
  s.state.extra["batches_consumed"] = std::to_string(s.batches_consumed);
  s.state.extra["skipped_steps"] = std::to_string(s.skipped_steps);
  s.state.extra["train_seconds"] = std::to_string(s.seconds());
  s.state.extra["window_loss_sum"] = exact_text(s.window_loss_sum);
  s.state.extra["window_steps"] = std::to_string(s.window_steps);
  s.state.extra["window_correct"] = std::to_string(s.window_acc.correct);
  s.state.extra["window_supervised"] = std::to_string(s.window_acc.supervised);
  s.state.extra["attempt"] = std::to_string(s.attempt);
  s.state.extra["attempt_start"] = std::to_string(s.attempt_start);
  s.state.extra["last_train_accuracy"] = exact_text(s.last_train_accuracy);
  save_checkpoint(s.run, *s.model, *s.optimizer, s.state, s.average.get());
}

// Attempts (trainer.h). An attempt whose training accuracy is below this at a validation in
// the second half of its steps is given up: on parity the runs that left the 50% plateau went
// from chance to above 90% on training batches within 20-60 steps, at step 60-600 of 1000,
// and by half the schedule the learning rate is half down (docs/results.md, "Fresh starts").
// It is the last window's accuracy, not the best so far, that counts: an attempt that fitted
// and fell back to chance is no more likely to recover than one that never left it.
constexpr double kFittingTrainAccuracy = 0.9;

bool restarts_left(const Session& s) { return s.attempt < s.options.restarts; }

// The run's target: with --confirm-examples a confirmed candidate whose worst bucket reaches
// --restart-below (which also ends the run), otherwise a validation accuracy that does.
bool below_target(const Session& s) {
  if (s.options.confirm_examples > 0)
    return saved_number<double>(s, "best_confirmed_worst_bucket", -1.0) < s.options.restart_below;
  return saved_number<double>(s, "best_accuracy", -1.0) < s.options.restart_below;
}
bool target_reached_early(const Session& s) { return s.options.confirm_examples > 0 && !below_target(s); }

// Fresh weights, drawn on from the run's generator (so attempt a's are the same however the
// run was interrupted), a fresh optimiser and the schedule from its start; the data goes on
// where it was. Logged as a "restart" record and checkpointed at once.
void start_next_attempt(Session& s, MetricsLog& log, const std::string& reason, bool progress, bool tty) {
  const models::ModelConfig config = s.model->config();
  s.attempt += 1;
  s.attempt_start = s.state.step;
  s.last_train_accuracy = 0;
  s.model = std::make_shared<models::CausalLM>(config, s.state.rng);
  s.model->train();
  place_model(s);
  make_optimizer(s);
  start_average(s);
  log.write({{"step", s.state.step}, {"split", "restart"}, {"attempt", s.attempt + 1}, {"reason", reason}});
  if (progress)
    std::fprintf(stderr, "%sstep %lld: %s; attempt %lld of at most %lld starts from fresh weights\n", tty ? "\r\033[K" : "",
                 (long long)s.state.step, reason.c_str(), (long long)s.attempt + 1, (long long)s.options.restarts + 1);
  checkpoint(s);
}

// A step with a non-finite loss or gradient: no update, the schedule stays, the batch is
// used up. Told on stderr and in the metrics log; too many in a row end the run
// (train/numerical_faults.h) with the last checkpoint left as it was.
void skip_step(Session& s, const std::string& fault, MetricsLog& log, int64_t& consecutive_skips, bool tty) {
  s.model->zero_grad();
  s.skipped_steps += 1;
  consecutive_skips += 1;
  const int64_t step = s.state.step + 1;
  log.write({{"step", step}, {"split", "skipped"}, {"reason", fault}, {"skipped_steps", s.skipped_steps}});
  std::fprintf(stderr, "%sstep %lld: %s; the step is skipped (%lld skipped so far)\n", tty ? "\r\033[K" : "", (long long)step,
               fault.c_str(), (long long)s.skipped_steps);
  HQLT_CHECK(consecutive_skips < kMaxConsecutiveSkips, "train: ", consecutive_skips,
             " steps in a row had a non-finite loss or gradient (the last: ", fault, ") at step ", step,
             "; the weights no longer train, so the run stops. Its last checkpoint is kept; a lower --lr or "
             "--clip 1 may help");
}

TrainReport run_loop(Session& s, const RunControl& control) {
  const TrainOptions& o = s.options;
  MetricsLog log(s.run.metrics());
  InterruptGuard guard;
  const bool tty = control.progress && isatty(STDERR_FILENO);
  const int64_t vocab = s.task->vocab_size();
  const Device device = s.model->device();
  const std::string prefix = control.label.empty() ? "" : control.label + "  ";

  TrainReport report;
  const auto start = Clock::now();
  s.started = start;
  const int64_t first_step = s.state.step;
  int64_t window_tokens = 0;
  auto window_start = Clock::now();
  std::string last_line;
  // A validation pass: logged, and with --test-on best a candidate for best/.
  // The step it ran at goes into the training state, so a run killed after its final
  // checkpoint does not validate (and log) the last step twice when resumed.
  // With --average-weights the average is validated too ("validation_average" records), and
  // whichever is better goes to best/. With --confirm-examples a candidate that reaches the
  // target is scored again on the confirmation set, the validation examples after the first
  // eval_examples ("confirmation" / "confirmation_average" records). Returns the progress
  // line's text.
  auto validate_candidate = [&](const models::CausalLM& weights, const char* which, const std::string& split) {
    const EvalResult val = evaluate(weights, *s.task, Split::validation, o.eval_examples, o.batch_size);
    log.write({{"step", s.state.step}, {"split", "validation" + split}, {"loss", val.loss},
               {"accuracy", val.accuracy.token_accuracy()}});
    std::optional<EvalResult> confirmed;
    if (o.confirm_examples > 0 && val.accuracy.token_accuracy() >= o.restart_below) {
      confirmed = evaluate(weights, *s.task, Split::validation, o.confirm_examples, o.batch_size, o.eval_examples);
      log.write({{"step", s.state.step}, {"split", "confirmation" + split}, {"loss", confirmed->loss},
                 {"accuracy", confirmed->accuracy.token_accuracy()},
                 {"worst_bucket", worst_bucket_accuracy(*confirmed)}});
    }
    keep_if_best(s, val, confirmed ? &*confirmed : nullptr, weights, which);
    char text[96];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * val.accuracy.token_accuracy());
    std::string line = text;
    if (confirmed) {
      std::snprintf(text, sizeof text, ", worst bucket %.1f%% of %lld more", 100 * worst_bucket_accuracy(*confirmed),
                    (long long)o.confirm_examples);
      line += text;
    }
    return std::make_pair(val.loss, line);
  };
  auto validate_now = [&] {
    const auto [loss, trained] = validate_candidate(*s.model, "trained", "");
    char text[48];
    std::snprintf(text, sizeof text, "val loss %.4f  val acc ", loss);
    std::string line = text + trained;
    if (s.average) line += " (average " + validate_candidate(*s.average, "average", "_average").second + ")";
    s.state.extra["validated_step"] = std::to_string(s.state.step);
    return line;
  };
  auto validated_now = [&] {
    return saved_number<int64_t>(s, "validated_step", -1) == s.state.step;
  };

  int64_t consecutive_skips = 0;
  char why[160];
  for (;;) {  // one pass per attempt
    // (A run that has reached its confirmed target trains no further, resumed or not.)
    while (!target_reached_early(s) && s.state.step - s.attempt_start < o.steps) {
      if (interrupted() || (control.stop_at > 0 && s.state.step >= control.stop_at)) {
        report.interrupted = true;
        break;
      }
      const Batch batch = s.task->batch(Split::train, uint64_t(s.batches_consumed) * uint64_t(o.batch_size), o.batch_size);
      s.batches_consumed += 1;
      const double lr = s.schedule.lr(s.state.step - s.attempt_start);
      s.optimizer->set_lr(lr);
      const Tensor logits = s.model->forward(batch.input_ids.to(device));
      const Tensor loss =
          cross_entropy(logits.reshape({-1, vocab}), batch.targets.to(device).reshape({-1}), kIgnore);
      const double loss_value = loss.item();
      // A non-finite loss or gradient skips the step (train/numerical_faults.h). The norm
      // pass reads the gradients only, so a healthy run is unchanged by the check.
      std::string fault;
      if (!std::isfinite(loss_value)) {
        fault = detail::concat("the loss is ", loss_value);
      } else {
        loss.backward();
        const std::vector<Tensor> params = s.model->parameters();
        const double norm = o.clip > 0 ? nn::clip_grad_norm(params, o.clip) : nn::grad_norm(params);
        if (!std::isfinite(norm)) fault = non_finite_gradient(*s.model);
      }
      if (!fault.empty()) {
        skip_step(s, fault, log, consecutive_skips, tty);
        continue;
      }
      consecutive_skips = 0;
      s.optimizer->step();
      s.optimizer->zero_grad();
      if (s.average) nn::update_average(s.average->parameters(), s.model->parameters(), o.average_decay);
      s.state.step += 1;
      int64_t tokens = 0;
      for (int64_t n : batch.lengths) tokens += n;
      s.state.tokens_seen += tokens;
      window_tokens += tokens;
      s.window_loss_sum += loss_value;
      s.window_steps += 1;
      const Accuracy acc = score_batch(logits, batch.targets).total();
      s.window_acc.correct += acc.correct;
      s.window_acc.supervised += acc.supervised;

      const int64_t k = s.state.step, attempt_step = k - s.attempt_start;
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const double eta = elapsed / double(k - first_step) * double(o.steps - attempt_step);
      const double total_seconds = s.seconds();
      if (k % o.log_interval == 0 || attempt_step == o.steps) {
        s.last_train_accuracy = s.window_acc.token_accuracy();
        const double window_s = std::chrono::duration<double>(Clock::now() - window_start).count();
        const double rate = window_s > 0 ? double(window_tokens) / window_s : 0;
        log.write({{"step", k}, {"split", "train"}, {"loss", s.window_loss_sum / double(s.window_steps)},
                   {"accuracy", s.window_acc.token_accuracy()}, {"lr", lr}, {"tokens", s.state.tokens_seen},
                   {"tokens_per_s", rate}, {"seconds", total_seconds}});
        char line[256];
        std::snprintf(line, sizeof line, "%s%sstep %lld/%lld  loss %.4f  acc %5.1f%%  %s tok/s  ETA %s", prefix.c_str(),
                      o.restarts > 0 ? ("attempt " + std::to_string(s.attempt + 1) + "  ").c_str() : "",
                      (long long)attempt_step, (long long)o.steps, s.window_loss_sum / double(s.window_steps),
                      100 * s.window_acc.token_accuracy(), format_rate(rate).c_str(), format_duration(eta).c_str());
        last_line = line;
        if (tty) std::fprintf(stderr, "\r\033[K%s", line);
        s.window_loss_sum = 0;
        s.window_steps = 0;
        window_tokens = 0;
        s.window_acc = Accuracy{};
        window_start = Clock::now();
      }
      if (o.eval_interval > 0 && attempt_step % o.eval_interval == 0 && attempt_step != o.steps) {
        const std::string val = validate_now();
        if (control.progress && !tty) std::fprintf(stderr, "%s  %s\n", last_line.c_str(), val.c_str());
        if (target_reached_early(s)) break;
        if (restarts_left(s) && 2 * attempt_step >= o.steps && s.last_train_accuracy < kFittingTrainAccuracy) {
          std::snprintf(why, sizeof why, "training accuracy below %.0f%% in the second half of attempt %lld",
                        100 * kFittingTrainAccuracy, (long long)s.attempt + 1);
          start_next_attempt(s, log, why, control.progress, tty);
          continue;
        }
      }
      if (o.checkpoint_interval > 0 && k % o.checkpoint_interval == 0 && attempt_step != o.steps) checkpoint(s);
    }
    if (report.interrupted) break;
    // The last validation is a candidate for best/ too, so it runs before the checkpoint that
    // saves what keep_if_best recorded.
    if (!validated_now()) validate_now();
    if (!below_target(s)) {
      if (target_reached_early(s) && control.progress)
        std::fprintf(stderr, "%sstep %lld: every length bucket of the confirmation set is at %.2f%% or more; the run "
                     "ends here\n", tty ? "\r\033[K" : "", (long long)s.state.step, 100 * o.restart_below);
      break;
    }
    if (!restarts_left(s)) break;
    if (o.confirm_examples > 0)
      std::snprintf(why, sizeof why, "no validation has reached %.2f%% on every length bucket of the confirmation set",
                    100 * o.restart_below);
    else
      std::snprintf(why, sizeof why, "the best validation accuracy, %.2f%%, is below %.2f%%",
                    100 * saved_number<double>(s, "best_accuracy"), 100 * o.restart_below);
    start_next_attempt(s, log, why, control.progress, tty);
  }
  if (tty) std::fputc('\n', stderr);
  report.step = s.state.step;
  report.seconds = s.seconds();
  checkpoint(s);
  if (report.interrupted) {
    if (control.summary)
      std::printf("stopped at step %lld of %lld; checkpoint saved. continue with: hqlt train --resume %s\n",
                  (long long)s.state.step, (long long)o.steps, s.run.path.c_str());
    return report;
  }

  report.attempts = s.attempt + 1;
  report.tested_step = o.test_best ? restore_best(s) : s.state.step;
  report.test = evaluate(*s.model, *s.task, Split::test, o.test_examples, o.batch_size);
  log.write({{"step", s.state.step}, {"split", "test"}, {"loss", report.test.loss},
             {"accuracy", report.test.accuracy.token_accuracy()}});
  io::write_json_file(s.run.file("test.json"), test_json(s, report.test, report.tested_step));
  write_curves(s);
  write_length_plot(s, report.test);
  report.finished = true;
  if (control.summary) {
    std::printf("%s on %s: %lld steps in %s; test loss %.4f, accuracy %.2f%% over %lld examples\n",
                s.options.model.c_str(), s.task->name().c_str(), (long long)s.state.step,
                format_duration(report.seconds).c_str(), report.test.loss,
                100 * report.test.accuracy.token_accuracy(), (long long)report.test.accuracy.sequences);
    if (s.task->name() == "text")  // byte-level: the loss in bits per byte (docs/math/tasks.md §D.2)
      std::printf("  %.4f bits per byte\n", report.test.loss / std::log(2.0));
    if (s.options.test_best) {
      std::printf("  tested: the %sweights of step %lld%s, the best validation (%s/best)\n",
                  s.state.extra.count("best_weights") && s.state.extra.at("best_weights") == "average" ? "averaged " : "",
                  (long long)report.tested_step,
                  s.attempt > 0 ? (" (of " + std::to_string(s.attempt + 1) + " attempts)").c_str() : "",
                  s.run.path.c_str());
      if (s.state.extra.count("best_confirmed_worst_bucket"))
        std::printf("  confirmed on %lld more validation examples: %.2f%%, worst length bucket %.2f%%\n",
                    (long long)o.confirm_examples, 100 * saved_number<double>(s, "best_confirmed_accuracy"),
                    100 * saved_number<double>(s, "best_confirmed_worst_bucket"));
    }
    std::fputs(bucket_table(report.test).c_str(), stdout);
    std::printf("plots: %s/loss.png, %s/accuracy.png%s\nrun folder: %s\n", s.run.path.c_str(), s.run.path.c_str(),
                report.test.buckets.size() > 1 ? (", " + s.run.path + "/accuracy_by_length.png").c_str() : "",
                s.run.path.c_str());
  }
  return report;
}

}  // namespace

TrainReport train_new(const TrainOptions& requested, const RunDir& run, const RunControl& control) {
  TrainOptions options = requested;
  validate(options);
  require_device(parse_device(options.device, "train"), "train");  // before the run folder exists
  set_num_threads(options.threads);
  HQLT_CHECK(!fs::exists(run.options()), "'", run.path, "' already holds a run; continue it with --resume ",
             run.path, " or choose another --run-dir");
  Session s;
  s.options = options;
  s.run = run;
  s.task = make_task(options);
  HQLT_CHECK(options.confirm_examples == 0 || s.task->judged_by_answers(), "--confirm-examples is for the tasks "
             "judged by their answers (parity, modular_arithmetic, mqar); ", s.task->name(), " is judged by its loss");
  const models::ModelConfig config = make_model_config(options, s.task->vocab_size());
  fs::create_directories(run.path);
  models::write_config_file(run.config(), config);
  Generator init{options.seed, 0};
  s.model = std::make_shared<models::CausalLM>(config, init);
  s.model->train();
  place_model(s);
  make_optimizer(s);
  start_average(s);
  s.schedule = make_schedule(options);
  s.state.rng = init;
  // The step-0 checkpoint goes first and train_options.json, which makes the folder a run,
  // last: a run folder always holds a checkpoint to resume from, however early the process
  // is killed, and a folder killed before it became a run is simply started again.
  checkpoint(s);
  io::write_json_file(run.options(), options_to_json(options));
  if (control.summary)
    std::printf("training %s (%lld parameters) on %s: %lld steps of batch %lld%s, %s; run folder %s\n",
                options.model.c_str(), (long long)s.model->num_parameters(), s.task->name().c_str(),
                (long long)options.steps, (long long)options.batch_size,
                options.restarts > 0
                    ? (" per attempt, up to " + std::to_string(options.restarts + 1) + " attempts").c_str()
                    : "",
                options.device == "cuda" ? "on the GPU" : (std::to_string(num_threads()) + " threads").c_str(),
                run.path.c_str());
  std::fflush(stdout);  // the header before the progress lines on stderr, even when piped
  return run_loop(s, control);
}

TrainReport train_resume(const RunDir& run, int threads, const RunControl& control, const std::string& device) {
  Session s;
  s.options = read_run_options(run);
  s.options.threads = threads;
  if (!device.empty()) s.options.device = device;  // the run's options file keeps where it began
  s.run = run;
  set_num_threads(threads);
  s.task = make_task(s.options);
  s.model = load_run_model(run, *s.task);
  s.model->train();
  place_model(s);
  make_optimizer(s);
  s.state = models::load_training_state(run.checkpoint(), *s.optimizer);
  if (s.options.average_decay > 0) s.average = load_run_average(run, *s.model);
  s.batches_consumed = saved_number<int64_t>(s, "batches_consumed");
  s.skipped_steps = saved_number<int64_t>(s, "skipped_steps");
  s.seconds_before = saved_number<double>(s, "train_seconds");
  s.window_loss_sum = saved_number<double>(s, "window_loss_sum", 0.0);
  s.window_steps = saved_number<int64_t>(s, "window_steps", 0);
  s.window_acc.correct = saved_number<int64_t>(s, "window_correct", 0);
  s.window_acc.supervised = saved_number<int64_t>(s, "window_supervised", 0);
  s.attempt = saved_number<int64_t>(s, "attempt", 0);
  s.attempt_start = saved_number<int64_t>(s, "attempt_start", 0);
  s.last_train_accuracy = saved_number<double>(s, "last_train_accuracy", 0.0);
  s.schedule = make_schedule(s.options);
  truncate_metrics(run.metrics(), s.state.step);
  if (control.summary) {
    // Steps count on across attempts; the schedule's position is the step within the attempt.
    const long long within = s.state.step - s.attempt_start, steps = s.options.steps;
    const std::string where = s.options.restarts > 0 ? " (attempt " + std::to_string(s.attempt + 1) + ", step " +
                                                           std::to_string(within) + " of " + std::to_string(steps) + ")"
                                                     : " of " + std::to_string(steps);
    std::printf("resuming %s on %s at step %lld%s; run folder %s\n", s.options.model.c_str(),
                s.task->name().c_str(), (long long)s.state.step, where.c_str(), run.path.c_str());
  }
  std::fflush(stdout);  // the header before the progress lines on stderr, even when piped
  return run_loop(s, control);
}

std::string bucket_json_lines(const std::string& task, const EvalResult& result) {
  std::string out;
  for (const LengthBucket& b : result.buckets) {
    io::Json j = io::Json::object();
    j.set("task", task);
    j.set("length_min", b.length_min);
    j.set("length_max", b.length_max);
    j.set("accuracy", b.accuracy());
    j.set("count", b.sequences);
    out += j.dump() + "\n";
  }
  return out;
}

std::string bucket_table(const EvalResult& result) {
  std::string out = "  length      accuracy   examples\n";
  char line[96];
  for (const LengthBucket& b : result.buckets) {
    std::snprintf(line, sizeof line, "  %4lld-%-4lld  %7.2f%%   %8lld\n", (long long)b.length_min,
                  (long long)b.length_max, 100 * b.accuracy(), (long long)b.sequences);
    out += line;
  }
  return out;
}

}  // namespace hqlt::train
