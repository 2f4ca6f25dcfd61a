#include "cli/experiment_runs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/train_flags.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "io/json.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

namespace hqlt::cli {

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

train::EvalResult read_test_json(const io::Json& j) {
  train::EvalResult r;
  r.loss = j.at("loss").as_double();
  for (const io::Json& b : j.at("buckets").as_array()) {
    train::LengthBucket bucket{b.at("length_min").as_int(), b.at("length_max").as_int()};
    bucket.sequences = b.at("count").as_int();
    bucket.correct = b.at("correct").as_int();
    bucket.supervised = b.at("supervised").as_int();
    r.buckets.push_back(bucket);
    r.accuracy.correct += bucket.correct;
    r.accuracy.supervised += bucket.supervised;
    r.accuracy.sequences += bucket.sequences;
  }
  return r;
}

// The training time and the accuracy of the last training record of a run's metrics.
void read_training_record(const std::string& metrics_path, SeedRun& result) {
  for (const io::Json& r : train::read_metrics(metrics_path))
    if (r.value("split", "") == "train") {
      result.seconds = std::max(result.seconds, r.value("seconds", 0.0));
      result.train_accuracy = r.value("accuracy", 0.0);
    }
}

}  // namespace

std::vector<Row> select_rows(const std::vector<Row>& rows, const std::string& list) {
  if (list.empty()) return rows;
  std::vector<Row> out;
  for (const std::string& name : split_commas(list)) {
    bool found = false;
    for (const Row& r : rows)
      if (r.name == name) {
        out.push_back(r);
        found = true;
      }
    if (!found) {
      std::string known;
      for (const Row& r : rows) known += (known.empty() ? "" : ", ") + r.name;
      fail("experiment: unknown row '", name, "' (known: ", known, ")");
    }
  }
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& list, const std::string& what) {
  std::vector<int64_t> out;
  for (const std::string& item : split_commas(list)) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    HQLT_CHECK(used == item.size() && !item.empty() && v > 0, "experiment: ", what,
               " must be a comma-separated list of positive integers, got '", list, "'");
    out.push_back(v);
  }
  return out;
}

void read_experiment_args(const Args& args, const char* usage, ExperimentArgs& e,
                          const std::function<bool(ArgReader&)>& extra) {
  ArgReader r("experiment", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::printf("%s%s", usage, kTrainFlagsHelp);
      e.help = true;
      return;
    }
    if (r.is("--out")) e.out = r.value();
    else if (r.is("--rows")) e.rows = r.value();
    else if (r.is("--seeds")) e.seeds = r.positive_int();
    else if (r.is("--task") || r.is("--model") || r.is("--model-config"))
      fail("experiment: ", r.option(), " is set by the experiment itself");
    else if (!(extra && extra(r)) && !read_train_option(r, e.options)) r.unknown();
  }
}

std::optional<SeedRun> train_row(const train::TrainOptions& options, const Row& row, uint64_t seed,
                                 const std::string& out, const std::string& label) {
  SeedRun result;
  result.options = options;
  result.options.model = row.model;
  result.options.seed = seed;
  result.options.overrides.insert(result.options.overrides.end(), row.overrides.begin(), row.overrides.end());
  if (row.budget != 1) {
    train::TrainOptions& o = result.options;
    o.steps = std::max<int64_t>(1, int64_t(double(o.steps) * row.budget));
    if (o.curriculum_steps > 0) o.curriculum_steps = int64_t(double(o.curriculum_steps) * row.budget);
    o.warmup_steps = std::min(o.warmup_steps, o.steps);
    o.restarts = 0;  // fresh starts cannot help a row that cannot fit; they would only cost time
  }
  const std::string seed_name = "seed" + std::to_string(seed);
  result.run = train::RunDir{out + "/" + row.name + "/" + seed_name};
  if (fs::exists(result.run.file("test.json"))) {
    const io::Json test = io::read_json_file(result.run.file("test.json"));
    result.test = read_test_json(test);
    result.attempts = test.value("attempts", int64_t(1));  // runs from before fresh starts: one
  } else {
    train::RunControl control;
    control.summary = false;
    control.label = label;
    const train::TrainReport report = fs::exists(result.run.options())
                                          ? train::train_resume(result.run, options.threads, control)
                                          : train::train_new(result.options, result.run, control);
    if (!report.finished) {
      std::printf("experiment interrupted during %s %s; run the same command again to continue\n", row.name.c_str(),
                  seed_name.c_str());
      return std::nullopt;
    }
    result.test = report.test;
    result.attempts = report.attempts;
  }
  read_training_record(result.run.metrics(), result);
  std::printf("%-28s %-7s test accuracy %5.1f%%, train accuracy %5.1f%%  (%.0f s%s)\n", row.name.c_str(),
              seed_name.c_str(), 100 * result.test.accuracy.token_accuracy(), 100 * result.train_accuracy,
              result.seconds, result.attempts > 1 ? (", " + std::to_string(result.attempts) + " attempts").c_str() : "");
  std::fflush(stdout);
  return result;
}

bool for_each_run(const ExperimentArgs& e, const std::vector<Row>& rows,
                  const std::function<void(size_t, int64_t, const SeedRun&)>& done) {
  const size_t runs = rows.size() * size_t(e.seeds);
  size_t index = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t k = 0; k < e.seeds; ++k) {
      const uint64_t seed = e.options.seed + uint64_t(k);
      const std::string label = "[" + std::to_string(++index) + "/" + std::to_string(runs) + " " + rows[i].name +
                                " seed" + std::to_string(seed) + "]";
      const std::optional<SeedRun> run = train_row(e.options, rows[i], seed, e.out, label);
      if (!run) return false;
      set_num_threads(e.options.threads);
      done(i, k, *run);
    }
  return true;
}

}  // namespace hqlt::cli
