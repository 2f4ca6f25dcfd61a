// hqlt experiment rl: the memory systems as the agent's memory (docs/math/rl.md §2) on the
// passive T-Maze over growing corridor lengths, several seeds each: one run per (model,
// corridor, seed) in OUT/<model>/L<corridor>/seed<S>/ (finished runs are read back,
// interrupted ones resumed, so the same command continues the experiment), then a table of
// the final greedy success rate (mean and worst over seeds) and one plot per corridor of
// the mean success against episodes.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "cli/experiment_runs.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "train/metrics_log.h"
#include "train/plot.h"
#include "train/rl/run.h"

namespace hqlt::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: hqlt experiment rl [--out DIR] [--models LIST] [--lengths LIST] [--seeds N] [--episodes N]\n"
    "                          [--threads N]\n"
    "  the tmaze-short recipe of hqlt rl train (width 16, one layer, batch 16) with two updates\n"
    "  per action, on the passive T-Maze, for every model, corridor and seed; a table and plots\n"
    "  --out DIR        the experiment folder (default runs/experiment-rl)\n"
    "  --models LIST    default transformer,delta_net,sync_hqlt\n"
    "  --lengths LIST   corridor lengths (default 3,5,8)\n"
    "  --seeds N        seeds 1..N per cell (default 2)\n"
    "  --episodes N     training episodes after the warm-up (default 600)\n";

struct Cell {
  std::vector<double> final_success;
  std::map<int64_t, std::vector<double>> curve;  // episodes -> success of each seed
  double seconds = 0;
};

}  // namespace

int experiment_rl(const Args& args) {
  std::string out = "runs/experiment-rl", models = "transformer,delta_net,sync_hqlt", lengths = "3,5,8";
  int64_t seeds = 2, episodes = 600;
  int threads = 0;
  ArgReader r("experiment rl", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (r.is("--out")) out = r.value();
    else if (r.is("--models")) models = r.value();
    else if (r.is("--lengths")) lengths = r.value();
    else if (r.is("--seeds")) seeds = r.positive_int();
    else if (r.is("--episodes")) episodes = r.positive_int();
    else if (r.is("--threads")) threads = int(r.positive_int());
    else r.unknown();
  }
  const std::vector<std::string> model_names = split_commas(models);
  const std::vector<int64_t> corridor = parse_int_list(lengths, "--lengths");
  set_num_threads(threads);

  std::map<std::pair<std::string, int64_t>, Cell> cells;
  for (const std::string& model : model_names)
    for (const int64_t length : corridor)
      for (int64_t seed = 1; seed <= seeds; ++seed) {
        const std::string dir = out + "/" + model + "/L" + std::to_string(length) + "/seed" + std::to_string(seed);
        const train::rl::RlRunControl control{-1, true};
        bool finished;
        if (fs::exists(dir + "/rl_options.json")) {
          finished = train::rl::rl_run_finished(dir) || train::rl::rl_train_resume(dir, control);
        } else {
          // The tmaze-short preset with two updates per action, evaluated every 50 episodes.
          train::rl::RlRunOptions o = train::rl::rl_preset("tmaze-short");
          o.env.length = length, o.agent.model = model;
          train::rl::set_seed(o, uint64_t(seed));
          o.loop.train_episodes = episodes, o.loop.updates_per_step = 2.0, o.loop.eval_interval = 50;
          o.checkpoint_interval = 50;
          finished = train::rl::rl_train_new(o, dir, control);
        }
        if (!finished) {
          std::printf("experiment rl: interrupted; the same command continues it\n");
          return 130;
        }
        Cell& cell = cells[{model, length}];
        const std::vector<io::Json> records = train::read_metrics(dir + "/metrics.jsonl");
        for (const io::Json& rec : records) cell.curve[rec.at("episodes").as_int()].push_back(rec.at("success").as_double());
        cell.final_success.push_back(records.back().at("success").as_double());
        cell.seconds += records.back().at("seconds").as_double();
      }

  // The table: final greedy success, mean (worst) over seeds, per model and corridor.
  std::string table = "| model |";
  for (const int64_t length : corridor) table += " corridor " + std::to_string(length) + " |";
  table += " wall time |\n|---|";
  for (size_t i = 0; i < corridor.size(); ++i) table += "---:|";
  table += "---:|\n";
  for (const std::string& model : model_names) {
    table += "| " + model + " |";
    double seconds = 0;
    for (const int64_t length : corridor) {
      const Cell& c = cells[{model, length}];
      double mean = 0, worst = 1;
      for (double s : c.final_success) mean += s / double(c.final_success.size()), worst = std::min(worst, s);
      char text[48];
      std::snprintf(text, sizeof text, " %.2f (%.2f) |", mean, worst);
      table += text;
      seconds += c.seconds;
    }
    char text[32];
    std::snprintf(text, sizeof text, " %.0f s |\n", seconds);
    table += text;
  }
  std::printf("final greedy success on the passive T-Maze, mean (worst) over %lld seeds, %lld episodes:\n%s",
              (long long)seeds, (long long)episodes + 10, table.c_str());
  io::write_file_atomically(out + "/table.md", [&](io::FileSink& sink) { sink.write(table); });
  for (const int64_t length : corridor) {
    train::PlotSpec spec;
    spec.title = "T-Maze, corridor " + std::to_string(length) + ": mean success";
    spec.x_label = "episodes", spec.y_label = "success rate";
    for (const std::string& model : model_names) {
      train::Series s{model, {}, {}};
      for (const auto& [episode, values] : cells[{model, length}].curve) {
        double mean = 0;
        for (double v : values) mean += v / double(values.size());
        s.x.push_back(double(episode)), s.y.push_back(mean);
      }
      spec.series.push_back(s);
    }
    train::write_line_plot(spec, out + "/success_L" + std::to_string(length) + ".png");
  }
  std::printf("table: %s/table.md; plots: %s/success_L*.png\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace hqlt::cli
