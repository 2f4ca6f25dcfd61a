// hqlt experiment mqar: where each memory runs out of room. Every model trains once per
// seed on multi-query associative recall (docs/math/tasks.md §D.1) with the task's recipe, then
// is tested on a grid of key-value pair counts × sequence lengths. A softmax KV memory
// keeps every pair it has seen; a delta-rule fast-weight state of d_k × d_v per head has to
// share its d_k key directions among all the pairs, so its recall falls once the pairs
// outnumber what the keys can keep apart; a hybrid's KV part covers only the pairs inside
// its window or chunk (docs/math/models.md §5).
//
// Each run's grid goes to OUT/<row>/seed<S>/grid.json, so a second invocation reuses what
// is done and trains or tests only what is missing.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/experiment_runs.h"
#include "engine/error.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "train/plot.h"
#include "train/tasks/mqar.h"

namespace hqlt::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMqarUsage =
    "usage: hqlt experiment mqar [--out DIR] [--rows LIST] [--seeds N] [--pairs LIST] [--lengths LIST]\n"
    "                            [--grid-examples N] [training options]\n"
    "\n"
    "Trains every model on multi-query associative recall with one shared recipe (the mqar\n"
    "task's), then tests each on a grid of key-value pair counts and sequence lengths and\n"
    "prints, per length, a table of recall accuracy (the share of queries answered right,\n"
    "mean over seeds) against pairs, with one plot of accuracy against pairs per length.\n"
    "Runs go to OUT/<row>/seed<S>/ (default runs/experiment-mqar); running the same command\n"
    "again resumes an interrupted experiment.\n"
    "\n"
    "  --out DIR              the experiment folder\n"
    "  --rows LIST            comma-separated subset of the rows below (default: all)\n"
    "  --seeds N              seeds per row (default 1)\n"
    "  --pairs LIST           key-value pairs tested (default 4,8,16,32,48,60)\n"
    "  --lengths LIST         sequence lengths tested (default 128,256); a cell needs\n"
    "                         length >= 4 * pairs\n"
    "  --grid-examples N      test sequences per cell (default 256)\n"
    "\n"
    "rows: transformer, delta_net, delayed_stream_hqlt, delayed_chunk_hqlt, sync_hqlt,\n"
    "sync_linear_hqlt, delta_net_attn (the layer-wise hybrid: attention in every second block)\n\n";

std::vector<Row> mqar_rows() {
  return {{"transformer", "transformer", {}},         {"delta_net", "delta_net", {}},
          {"delayed_stream_hqlt", "delayed_stream_hqlt", {}}, {"delayed_chunk_hqlt", "delayed_chunk_hqlt", {}},
          {"sync_hqlt", "sync_hqlt", {}},             {"sync_linear_hqlt", "sync_linear_hqlt", {}},
          {"delta_net_attn", "delta_net_attn", {}}};
}

struct Cell {
  int64_t pairs = 0, length = 0;
  bool operator<(const Cell& o) const { return std::tie(length, pairs) < std::tie(o.length, o.pairs); }
};

// Recall accuracy (per query) of a trained run on every cell, from its grid.json where a
// cell is there already; the missing cells are tested and the file rewritten atomically.
std::map<Cell, double> run_grid(const SeedRun& run, const std::vector<Cell>& cells, int64_t examples) {
  const std::string path = run.run.file("grid.json");
  std::map<Cell, double> accuracy;
  io::Json::Array saved;
  if (fs::exists(path)) saved = io::read_json_file(path).at("cells").as_array();
  for (const io::Json& c : saved)
    if (c.at("examples").as_int() == examples)
      accuracy[Cell{c.at("pairs").as_int(), c.at("length").as_int()}] = c.at("accuracy").as_double();

  std::shared_ptr<models::CausalLM> model;
  for (const Cell& cell : cells) {
    if (accuracy.count(cell)) continue;
    train::TrainOptions o = run.options;
    o.mqar_eval_pairs = cell.pairs;
    o.mqar_eval_length = cell.length;
    const std::unique_ptr<train::Task> task = train::make_task(o);
    if (!model) model = train::load_run_model(run.run, *task);
    const train::EvalResult r = train::evaluate(*model, *task, train::Split::test, examples, 64);
    accuracy[cell] = r.accuracy.token_accuracy();
    io::Json j = io::Json::object();
    j.set("pairs", cell.pairs);
    j.set("length", cell.length);
    j.set("examples", examples);
    j.set("accuracy", r.accuracy.token_accuracy());
    j.set("sequence_accuracy", r.accuracy.sequence_accuracy());
    saved.push_back(j);
    io::Json file = io::Json::object();
    file.set("cells", io::Json(saved));
    io::write_json_file(path, file);
  }
  return accuracy;
}

}  // namespace

int experiment_mqar(const Args& args) {
  ExperimentArgs e{train::default_recipe("mqar"), "runs/experiment-mqar", "", 1};
  std::string pairs_list = "4,8,16,32,48,60", lengths_list = "128,256";
  int64_t examples = 256;
  read_experiment_args(args, kMqarUsage, e, [&](ArgReader& r) {
    if (r.is("--pairs")) pairs_list = r.value();
    else if (r.is("--lengths")) lengths_list = r.value();
    else if (r.is("--grid-examples")) examples = r.positive_int();
    else return false;
    return true;
  });
  if (e.help) return 0;
  e.options.task = "mqar";
  const std::vector<Row> rows = select_rows(mqar_rows(), e.rows);
  const std::vector<int64_t> pairs = parse_int_list(pairs_list, "--pairs");
  const std::vector<int64_t> lengths = parse_int_list(lengths_list, "--lengths");
  const int64_t keys = train::mqar_key_count(train::make_task(e.options)->vocab_size());
  std::vector<Cell> cells;
  for (int64_t t : lengths)
    for (int64_t p : pairs) {
      HQLT_CHECK(p <= keys, "experiment: --pairs ", p, " exceeds the ", keys, " keys of the vocabulary");
      if (4 * p <= t) cells.push_back(Cell{p, t});
    }
  HQLT_CHECK(!cells.empty(), "experiment: no cell of --pairs × --lengths has length >= 4 * pairs");

  // Mean over seeds of each row's accuracy per cell.
  std::vector<std::map<Cell, double>> mean(rows.size());
  const bool finished = for_each_run(e, rows, [&](size_t i, int64_t, const SeedRun& run) {
    for (const auto& [cell, acc] : run_grid(run, cells, examples)) mean[i][cell] += acc / double(e.seeds);
  });
  if (!finished) return 130;

  std::string table;
  char text[64];
  for (int64_t t : lengths) {
    table += "\nlength " + std::to_string(t) + ": recall accuracy (%) by key-value pairs\n\n| model |";
    for (int64_t p : pairs) table += " " + std::to_string(p) + " |";
    table += "\n|---|";
    for (size_t p = 0; p < pairs.size(); ++p) table += "---:|";
    table += "\n";
    train::PlotSpec plot{"MQAR recall at length " + std::to_string(t), "key-value pairs", "accuracy (%)", false, {}};
    for (size_t i = 0; i < rows.size(); ++i) {
      table += "| " + rows[i].name + " |";
      train::Series s{rows[i].name, {}, {}};
      for (int64_t p : pairs) {
        const auto it = mean[i].find(Cell{p, t});
        if (it == mean[i].end()) {
          table += " – |";
          continue;
        }
        std::snprintf(text, sizeof text, " %.1f |", 100 * it->second);
        table += text;
        s.x.push_back(double(p));
        s.y.push_back(100 * it->second);
      }
      table += "\n";
      if (!s.x.empty()) plot.series.push_back(s);
    }
    if (!plot.series.empty() && plot.series.front().x.size() >= 2)
      train::write_line_plot(plot, e.out + "/accuracy_vs_pairs_T" + std::to_string(t) + ".png");
  }
  std::printf("%s", table.c_str());
  io::write_file_atomically(e.out + "/results.md", [&](io::FileSink& sink) { sink.write(table); });
  std::printf("\ntable: %s/results.md\nplots: %s/accuracy_vs_pairs_T<length>.png\n", e.out.c_str(), e.out.c_str());
  return 0;
}

}  // namespace hqlt::cli
