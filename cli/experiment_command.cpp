// hqlt experiment: the paper's Table 2 comparison on one synthetic task. Every model trains
// with the same recipe (the task's default, changed by the usual training flags), then its
// test accuracy by length goes into one table and one plot.
//
// Each row trains once per seed; each run lives in OUT/<row>/seed<S>/, so an interrupted
// experiment picks up where it stopped: finished runs are read back from their test.json,
// unfinished ones resume from their checkpoint.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "engine/error.h"
#include "io/atomic_file.h"
#include "train/metrics_log.h"
#include "train/plot.h"
#include "train/trainer.h"

namespace hqlt::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kExperimentUsage =
    "usage: hqlt experiment parity|modular_arithmetic [--out DIR] [--rows LIST] [--seeds N] [training options]\n"
    "\n"
    "Trains Transformer, DeltaNet, Delayed-Stream, Delayed-Chunk (both readings) and\n"
    "Synchronous HQLT with one shared recipe and prints their test accuracy by length (the\n"
    "paper's Table 2), with one plot comparing them. Each row trains once per seed (--seed S,\n"
    "S+1, ...); the table gives the mean over seeds and the worst seed. Runs go to\n"
    "OUT/<row>/seed<S>/ (default runs/experiment-<task>); running the same command again\n"
    "resumes an interrupted experiment.\n"
    "\n"
    "  --out DIR              the experiment folder\n"
    "  --rows LIST            comma-separated subset of the rows below (default: all)\n"
    "  --seeds N              seeds per row (default 3)\n"
    "\n"
    "rows: transformer, delta_net, delayed_stream_hqlt, delayed_chunk_hqlt (FW read blocks of\n"
    "64, as the reference), delayed_chunk_hqlt_fw_chunk (FW block = chunk size, the paper's\n"
    "definition), sync_hqlt\n\n";

struct Row {
  std::string name, model;
  std::vector<std::string> overrides;
  std::string note;
};

std::vector<Row> all_rows() {
  return {{"transformer", "transformer", {}, "KV-memory only"},
          {"delta_net", "delta_net", {}, "FW-memory only, beta in (0, 2)"},
          {"delayed_stream_hqlt", "delayed_stream_hqlt", {}, "Delayed-Stream"},
          {"delayed_chunk_hqlt", "delayed_chunk_hqlt", {}, "Delayed-Chunk, FW block 64 (reference)"},
          {"delayed_chunk_hqlt_fw_chunk", "delayed_chunk_hqlt", {"hqlt_fw_block=chunk_size"},
           "Delayed-Chunk, FW block = chunk (paper)"},
          {"sync_hqlt", "sync_hqlt", {}, "Synchronous"}};
}

std::vector<Row> select_rows(const std::string& list) {
  const std::vector<Row> rows = all_rows();
  if (list.empty()) return rows;
  std::vector<Row> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
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
    start = comma + 1;
  }
  return out;
}

train::EvalResult read_test_json(const std::string& path) {
  const io::Json j = io::read_json_file(path);
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

// One trained run: a row's model under one seed.
struct SeedResult {
  train::EvalResult test;
  double seconds = 0;         // training time recorded in the run's metrics
  double train_accuracy = 0;  // over the last logged training steps: did it learn the
                              // training lengths at all, before any generalisation?
};

struct RowResult {
  Row row;
  std::vector<SeedResult> seeds;

  // The mean and the lowest over seeds of one figure of a seed's run.
  template <class Figure>
  double mean(Figure figure) const {
    double sum = 0;
    for (const SeedResult& s : seeds) sum += figure(s);
    return sum / double(seeds.size());
  }
  template <class Figure>
  double worst(Figure figure) const {
    double lowest = 1;
    for (const SeedResult& s : seeds) lowest = std::min(lowest, figure(s));
    return lowest;
  }

  double mean_bucket(size_t b) const {
    return mean([b](const SeedResult& s) { return s.test.buckets[b].accuracy(); });
  }
  double mean_all() const { return mean(overall_accuracy); }
  double worst_all() const { return worst(overall_accuracy); }
  // The worst bucket of any seed.
  double worst_bucket() const {
    return worst([](const SeedResult& s) {
      double lowest = 1;
      for (const auto& b : s.test.buckets) lowest = std::min(lowest, b.accuracy());
      return lowest;
    });
  }
  double worst_train() const { return worst([](const SeedResult& s) { return s.train_accuracy; }); }
  double mean_seconds() const { return mean([](const SeedResult& s) { return s.seconds; }); }

 private:
  static double overall_accuracy(const SeedResult& s) { return s.test.accuracy.token_accuracy(); }
};

// Bucket columns hold the mean over seeds; "all" the mean and the worst seed; "worst bucket"
// the lowest bucket of any seed; "train" the worst seed's accuracy on its last training
// batches (below 99%: the row did not fit the training lengths).
std::string results_table(const std::vector<RowResult>& results) {
  std::string out = "| model | ";
  const auto& buckets = results.front().seeds.front().test.buckets;
  for (const auto& b : buckets) out += std::to_string(b.length_min) + "–" + std::to_string(b.length_max) + " | ";
  out += "all (mean) | all (worst seed) | worst bucket | train (worst seed) | train time per seed |\n|---|";
  for (size_t i = 0; i < buckets.size() + 5; ++i) out += "---:|";
  out += "\n";
  char cell[96];
  for (const RowResult& r : results) {
    out += "| " + r.row.name + " | ";
    for (size_t b = 0; b < buckets.size(); ++b) {
      std::snprintf(cell, sizeof cell, "%.1f | ", 100 * r.mean_bucket(b));
      out += cell;
    }
    std::snprintf(cell, sizeof cell, "**%.1f** | %.1f | %.1f | %.1f | %.0f s |\n", 100 * r.mean_all(),
                  100 * r.worst_all(), 100 * r.worst_bucket(), 100 * r.worst_train(), r.mean_seconds());
    out += cell;
  }
  return out;
}

// The training time and the accuracy of the last training record of a run's metrics.
void read_training_record(const std::string& metrics_path, SeedResult& result) {
  for (const io::Json& r : train::read_metrics(metrics_path))
    if (r.value("split", "") == "train") {
      result.seconds = std::max(result.seconds, r.value("seconds", 0.0));
      result.train_accuracy = r.value("accuracy", 0.0);
    }
}

}  // namespace

int experiment(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("%s%s", kExperimentUsage, kTrainFlagsHelp);
    return 0;
  }
  HQLT_CHECK(!args.empty() && args[0].rfind("--", 0) != 0,
             "experiment: name the task first: hqlt experiment parity|modular_arithmetic [options]");
  const std::string task = args[0];
  HQLT_CHECK(task == "parity" || task == "modular_arithmetic", "experiment: unknown task '", task,
             "' (known: parity, modular_arithmetic)");
  train::TrainOptions options = train::default_recipe(task);
  std::string out = "runs/experiment-" + task, rows_list;
  int64_t seeds = 3;
  const Args rest(args.begin() + 1, args.end());
  ArgReader r("experiment", rest);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::printf("%s%s", kExperimentUsage, kTrainFlagsHelp);
      return 0;
    }
    if (r.is("--out")) out = r.value();
    else if (r.is("--rows")) rows_list = r.value();
    else if (r.is("--seeds")) seeds = r.positive_int();
    else if (r.is("--task") || r.is("--model") || r.is("--model-config"))
      fail("experiment: ", r.option(), " is set by the experiment itself");
    else if (!read_train_option(r, options)) r.unknown();
  }
  options.task = task;
  const std::vector<Row> rows = select_rows(rows_list);

  std::vector<RowResult> results;
  const size_t runs = rows.size() * size_t(seeds);
  size_t run_index = 0;
  for (const Row& row : rows) {
    RowResult result{row, {}};
    for (int64_t k = 0; k < seeds; ++k) {
      train::TrainOptions o = options;
      o.model = row.model;
      o.seed = options.seed + uint64_t(k);
      o.overrides.insert(o.overrides.end(), row.overrides.begin(), row.overrides.end());
      const std::string seed_name = "seed" + std::to_string(o.seed);
      const train::RunDir run{out + "/" + row.name + "/" + seed_name};
      train::RunControl control;
      control.summary = false;
      control.label = "[" + std::to_string(++run_index) + "/" + std::to_string(runs) + " " + row.name + " " +
                      seed_name + "]";
      SeedResult seed_result;
      if (fs::exists(run.file("test.json"))) {
        seed_result.test = read_test_json(run.file("test.json"));
      } else {
        const train::TrainReport report = fs::exists(run.options()) ? train::train_resume(run, o.threads, control)
                                                                    : train::train_new(o, run, control);
        if (!report.finished) {
          std::printf("experiment interrupted during %s %s; run the same command again to continue\n",
                      row.name.c_str(), seed_name.c_str());
          return 130;
        }
        seed_result.test = report.test;
      }
      read_training_record(run.metrics(), seed_result);
      std::printf("%-28s %-7s test accuracy %5.1f%%, train accuracy %5.1f%%  (%.0f s)\n", row.name.c_str(),
                  seed_name.c_str(), 100 * seed_result.test.accuracy.token_accuracy(),
                  100 * seed_result.train_accuracy, seed_result.seconds);
      std::fflush(stdout);
      result.seeds.push_back(seed_result);
    }
    results.push_back(result);
  }

  const std::string table = results_table(results);
  std::printf("\ntest accuracy (%%) by length, %s:\n%s", task.c_str(), table.c_str());
  io::write_file_atomically(out + "/results.md", [&](io::FileSink& sink) { sink.write(table); });
  train::PlotSpec plot{"test accuracy by length: " + task, "sequence length", "accuracy (%)", false, {}};
  plot.width = 900;
  for (const RowResult& r : results) {
    train::Series s{r.row.name, {}, {}};
    const auto& buckets = r.seeds.front().test.buckets;
    for (size_t b = 0; b < buckets.size(); ++b) {
      s.x.push_back(0.5 * double(buckets[b].length_min + buckets[b].length_max));
      s.y.push_back(100 * r.mean_bucket(b));
    }
    plot.series.push_back(s);
  }
  train::write_line_plot(plot, out + "/accuracy_by_length.png");
  std::printf("table: %s/results.md\nplot: %s/accuracy_by_length.png\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace hqlt::cli
