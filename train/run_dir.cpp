#include "train/run_dir.h"

#include <ctime>
#include <filesystem>

#include "engine/error.h"
#include "io/atomic_file.h"
#include "train/metrics_log.h"

namespace hqlt::train {

namespace fs = std::filesystem;

void replace_folder(const std::string& live, const std::function<void(const std::string& fresh)>& fill) {
  const fs::path fresh = live + ".new", old = live + ".old";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  fs::create_directories(fresh);
  fill(fresh.string());
  fs::remove_all(old, ec);
  if (fs::exists(live)) fs::rename(live, old);
  fs::rename(fresh, live);
  fs::remove_all(old, ec);
}

std::string repair_folder(const std::string& live) {
  const fs::path old = live + ".old";
  if (!fs::exists(live) && fs::exists(old)) fs::rename(old, live);  // the swap stopped half-way
  return live;
}

void save_checkpoint(const RunDir& run, const models::CausalLM& model, const nn::AdamW& optimizer,
                     const models::TrainingState& state, const models::CausalLM* average) {
  replace_folder(run.checkpoint(), [&](const std::string& fresh) {
    models::save_pretrained(model, fresh);
    models::save_training_state(fresh, optimizer, state);
    if (average) models::save_pretrained(*average, fresh + "/average");
  });
}

std::string open_checkpoint(const RunDir& run) {
  const std::string live = repair_folder(run.checkpoint());
  HQLT_CHECK(fs::exists(fs::path(live) / "model.safetensors"), "no checkpoint in '", run.path,
             "' (expected ", live, "/model.safetensors)");
  return live;
}

TrainOptions read_run_options(const RunDir& run) {
  HQLT_CHECK(fs::exists(run.options()), "'", run.path, "' is not a training run (no train_options.json)");
  return options_from_json(io::read_json_file(run.options()));
}

namespace {

std::shared_ptr<models::CausalLM> load_for_task(const std::string& dir, const Task& task) {
  std::shared_ptr<models::CausalLM> model = models::load_pretrained(dir);
  HQLT_CHECK(model->config().vocab_size == task.vocab_size(), "vocab mismatch: the checkpoint in '", dir,
             "' has vocab_size ", model->config().vocab_size, " but task '", task.name(), "' has ",
             task.vocab_size(), " tokens");
  return model;
}

}  // namespace

std::shared_ptr<models::CausalLM> load_run_model(const RunDir& run, const Task& task) {
  return load_for_task(open_checkpoint(run), task);
}

std::shared_ptr<models::CausalLM> load_run_best(const RunDir& run, const Task& task) {
  HQLT_CHECK(fs::exists(fs::path(run.best()) / "model.safetensors"), "'", run.path,
             "' has no best/ weights (they are kept by runs trained with --test-on best)");
  return load_for_task(run.best(), task);
}

std::shared_ptr<models::CausalLM> load_run_average(const RunDir& run, const models::CausalLM& model) {
  const fs::path dir = fs::path(open_checkpoint(run)) / "average";
  HQLT_CHECK(fs::exists(dir / "model.safetensors"), "'", run.path,
             "' trains with --average-weights but its checkpoint has no ", dir.string(),
             "/model.safetensors; the checkpoint is damaged");
  std::shared_ptr<models::CausalLM> average = models::load_pretrained(dir.string());
  average->to(model.device());
  average->eval();
  return average;
}

std::string new_run_path(const std::string& task, const std::string& model) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string base = "runs/" + task + "-" + model + "-" + stamp;
  std::string path = base;
  for (int i = 2; fs::exists(path); ++i) path = base + "-" + std::to_string(i);
  return path;
}

void filter_metrics(const std::string& path, const std::function<bool(const io::Json&)>& keep) {
  if (!fs::exists(path)) return;
  std::string kept;
  for (const io::Json& record : read_metrics(path))
    if (keep(record)) kept += record.dump() + "\n";
  io::write_file_atomically(path, [&](io::FileSink& sink) { sink.write(kept); });
}

void truncate_metrics(const std::string& path, int64_t step) {
  filter_metrics(path, [step](const io::Json& record) {
    return record.value("step", int64_t(0)) <= step && record.value("split", "") != "test";
  });
}

}  // namespace hqlt::train
