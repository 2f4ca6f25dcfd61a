// hqlt experiment text: the six models as byte-level language models of one text, at one
// small size with equal parameter counts (each row's MLP width is set so that its count is
// within a fraction of a percent of the largest row's) and equal token budgets; then a copy
// probe that tells the two memories apart.
//
// The copy probe (per test window of T bytes): a span of S = 32 bytes is written over the
// last S bytes, taken either from the same window `near` (48 bytes earlier: inside a
// 64-token window) or `far` (from byte 16, 208 bytes earlier at T = 256: outside every
// window), or — the control — from another window, so never seen before. The splice breaks
// the text in the same way in all three; only the seen spans can be looked up. A model
// that looks them up predicts bytes 2..S of the copy more cheaply than the control's;
// control minus copy, in bits per byte, is what its memory gave. Softmax KV memory
// finds any earlier span; a fast-weight state has to have kept it in its d_k × d_v room;
// the hybrids' KV part reaches back only as far as its window (docs/math/models.md §5).
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/experiment_runs.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "models/checkpoint.h"
#include "ops/loss/cross_entropy.h"
#include "train/metrics_log.h"
#include "train/plot.h"
#include "train/tasks/text.h"

namespace hqlt::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTextUsage =
    "usage: hqlt experiment text --data FILE [--out DIR] [--rows LIST] [--seeds N] [--probe-examples N]\n"
    "                            [training options]\n"
    "\n"
    "Trains every model as a byte-level language model of FILE (90% / 10% split by position)\n"
    "with one recipe and one token budget (the text recipe with 1000 steps of 16 × 256 bytes),\n"
    "at d_model 128, 4 layers, 4 heads, window/chunk 64, each row's MLP width set so that the\n"
    "parameter counts agree; prints validation and test bits per byte and a copy probe (bits\n"
    "per byte on a span copied from 48 or 208 bytes earlier, against an unseen span),\n"
    "with a plot of the validation curves.\n"
    "Runs go to OUT/<row>/seed<S>/ (default runs/experiment-text); running the same command\n"
    "again resumes an interrupted experiment.\n"
    "\n"
    "  --data FILE            the text (any bytes)\n"
    "  --out DIR              the experiment folder\n"
    "  --rows LIST            comma-separated subset of the rows below (default: all)\n"
    "  --seeds N              seeds per row (default 1)\n"
    "  --probe-examples N     test windows for the copy probe (default 128)\n"
    "\n"
    "rows: transformer, delta_net, delayed_stream_hqlt, delayed_chunk_hqlt, sync_hqlt,\n"
    "sync_linear_hqlt\n\n";

constexpr int64_t kSpan = 32;          // S: bytes copied
constexpr int64_t kNearDistance = 48;  // from each byte of the seen span to its copy
constexpr int64_t kFarStart = 16;      // where the far span starts (the control's too, in
                                       // another window)

std::vector<Row> text_rows() {
  return {{"transformer", "transformer", {}},         {"delta_net", "delta_net", {}},
          {"delayed_stream_hqlt", "delayed_stream_hqlt", {}}, {"delayed_chunk_hqlt", "delayed_chunk_hqlt", {}},
          {"sync_hqlt", "sync_hqlt", {}},             {"sync_linear_hqlt", "sync_linear_hqlt", {}}};
}

int64_t parameter_count(const train::TrainOptions& o, const Row& row, int64_t intermediate) {
  train::TrainOptions r = o;
  r.model = row.model;
  r.shape.intermediate_size = intermediate;
  return models::reference_num_parameters(train::make_model_config(r, train::kByteVocab));
}

struct RowSize {
  int64_t mlp_width = 0, parameters = 0;
};

// Each row's MLP width, so that every row holds as many parameters as the largest one at
// width 4·D (the models' own default at D = 128, docs/math/models.md §1.6). The count is
// linear in the width, so one step of it gives the slope.
std::vector<RowSize> matched_sizes(const train::TrainOptions& o, const std::vector<Row>& rows) {
  const int64_t base = 4 * o.shape.hidden_size;
  int64_t target = 0;
  for (const Row& r : rows) target = std::max(target, parameter_count(o, r, base));
  std::vector<RowSize> sizes;
  for (const Row& r : rows) {
    const int64_t at_base = parameter_count(o, r, base);
    const int64_t per_unit = parameter_count(o, r, base + 1) - at_base;
    const int64_t width = base + (target - at_base + per_unit / 2) / per_unit;
    sizes.push_back(RowSize{width, parameter_count(o, r, width)});
  }
  return sizes;
}

struct Probe {
  double control = 0, near_copy = 0, far_copy = 0;  // nats per byte, on bytes 2..S of the splice
};

// Mean cross-entropy (nats) of `model` on positions [from, to) of every row, predicting the
// next byte of `rows` ([n, T] ids).
double span_loss(const models::CausalLM& model, const Tensor& ids, int64_t from, int64_t to) {
  const int64_t n = ids.size(0), t = ids.size(1);
  const int64_t* x = ids.data<int64_t>();
  std::vector<double> targets(size_t(n * t), double(train::kIgnore));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = from; p < to; ++p) targets[size_t(i * t + p)] = double(x[i * t + p + 1]);
  const Tensor logits = model.forward(ids);
  return cross_entropy(logits.reshape({-1, logits.size(-1)}), from_vector(targets, {n * t}, DType::i64),
                       train::kIgnore)
      .item();
}

Probe copy_probe(const models::CausalLM& model, const train::Task& task, int64_t examples, int64_t batch) {
  NoGrad no_grad;
  Probe p;
  int64_t batches = 0;
  for (int64_t first = 0; first < examples; first += batch) {
    const int64_t n = std::min(batch, examples - first);
    // The probed windows, and for the control one more window each, from past the probed ones.
    std::vector<std::vector<int64_t>> windows, others;
    for (int64_t i = 0; i < n; ++i) {
      windows.push_back(task.example(train::Split::test, uint64_t(first + i)).input);
      others.push_back(task.example(train::Split::test, uint64_t(examples + first + i)).input);
    }
    const int64_t t = int64_t(windows.front().size());
    HQLT_CHECK(t >= kFarStart + kSpan + kNearDistance + kSpan, "experiment: --seq-len ", t,
               " is too short for the copy probe");
    const int64_t copy_at = t - kSpan;
    // Each window gets bytes [source, source + S) of its donor over its last S.
    auto with_copy = [&](int64_t source, const std::vector<std::vector<int64_t>>& donors) {
      std::vector<double> ids;
      for (int64_t i = 0; i < n; ++i) {
        std::vector<int64_t> w = windows[size_t(i)];
        const std::vector<int64_t>& donor = donors[size_t(i)];
        for (int64_t j = 0; j < kSpan; ++j) w[size_t(copy_at + j)] = donor[size_t(source + j)];
        ids.insert(ids.end(), w.begin(), w.end());
      }
      return from_vector(ids, {n, t}, DType::i64);
    };
    // Positions predicting bytes 2..S of the splice.
    auto copy_loss = [&](const Tensor& ids) { return span_loss(model, ids, copy_at, copy_at + kSpan - 1); };
    p.control += copy_loss(with_copy(kFarStart, others));
    p.near_copy += copy_loss(with_copy(copy_at - kNearDistance, windows));
    p.far_copy += copy_loss(with_copy(kFarStart, windows));
    batches += 1;
  }
  p.control /= double(batches);
  p.near_copy /= double(batches);
  p.far_copy /= double(batches);
  return p;
}

// The probe of a finished run, from its probe.json when done before with the same setting.
Probe run_probe(const SeedRun& run, int64_t examples) {
  const std::string path = run.run.file("probe.json");
  if (fs::exists(path)) {
    const io::Json j = io::read_json_file(path);
    if (j.contains("control") && j.at("examples").as_int() == examples && j.value("span", int64_t(0)) == kSpan &&
        j.value("near_distance", int64_t(0)) == kNearDistance && j.value("far_start", int64_t(0)) == kFarStart)
      return {j.at("control").as_double(), j.at("near_copy").as_double(), j.at("far_copy").as_double()};
  }
  const std::unique_ptr<train::Task> task = train::make_task(run.options);
  const std::shared_ptr<models::CausalLM> model = train::load_run_model(run.run, *task);
  const Probe p = copy_probe(*model, *task, examples, 32);
  io::Json j = io::Json::object();
  j.set("examples", examples);
  j.set("span", kSpan);
  j.set("near_distance", kNearDistance);
  j.set("far_start", kFarStart);
  j.set("control", p.control);
  j.set("near_copy", p.near_copy);
  j.set("far_copy", p.far_copy);
  io::write_json_file(path, j);
  return p;
}

double bits(double nats) { return nats / std::log(2.0); }

}  // namespace

int experiment_text(const Args& args) {
  ExperimentArgs e{train::default_recipe("text"), "runs/experiment-text", "", 1};
  e.options.shape.hidden_size = 128;
  e.options.shape.num_layers = 4;
  e.options.shape.num_heads = 4;
  e.options.shape.chunk_size = 64;
  e.options.steps = 1000;  // 4.1M bytes: about one pass over a 4 MB text's training part
  int64_t probe_examples = 128;
  read_experiment_args(args, kTextUsage, e, [&](ArgReader& r) {
    if (!r.is("--probe-examples")) return false;
    probe_examples = r.positive_int();
    return true;
  });
  if (e.help) return 0;
  HQLT_CHECK(!e.options.data_path.empty(), "experiment text needs the text: --data FILE");
  e.options.task = "text";
  std::vector<Row> rows = select_rows(text_rows(), e.rows);
  // Matched over all six rows, whichever are run, so a subset gets the same models.
  const std::vector<Row> all = text_rows();
  const std::vector<RowSize> all_sizes = matched_sizes(e.options, all);
  std::vector<RowSize> sizes;
  for (Row& row : rows)
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].name == row.name) {
        row.overrides.push_back("intermediate_size=" + std::to_string(all_sizes[i].mlp_width));
        sizes.push_back(all_sizes[i]);
      }

  struct Result {
    double valid = 0, test = 0, seconds = 0;  // bits per byte (mean over seeds)
    Probe probe;                              // nats per byte (mean over seeds)
  };
  std::vector<Result> results(rows.size());
  train::PlotSpec plot{"validation loss: byte-level text", "bytes trained on (millions)", "bits per byte", false, {}};
  plot.width = 900;
  const double w = 1.0 / double(e.seeds);
  const bool finished = for_each_run(e, rows, [&](size_t i, int64_t k, const SeedRun& run) {
    train::Series curve{rows[i].name, {}, {}};
    double last_valid = 0;
    const double bytes_per_step = double(run.options.batch_size * run.options.seq_len);
    for (const io::Json& rec : train::read_metrics(run.run.metrics()))
      if (rec.value("split", "") == "validation") {
        last_valid = bits(rec.at("loss").as_double());
        curve.x.push_back(double(rec.at("step").as_int()) * bytes_per_step / 1e6);
        curve.y.push_back(last_valid);
      }
    if (k == 0) plot.series.push_back(curve);
    results[i].valid += w * last_valid;
    results[i].test += w * bits(run.test.loss);
    results[i].seconds += w * run.seconds;
    const Probe p = run_probe(run, probe_examples);
    results[i].probe.control += w * p.control;
    results[i].probe.near_copy += w * p.near_copy;
    results[i].probe.far_copy += w * p.far_copy;
  });
  if (!finished) return 130;

  std::string table =
      "| model | parameters | MLP width | validation bits/byte | test bits/byte | unseen span | span from 48 back | "
      "span from 208 back | train time |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char line[320];
  for (size_t i = 0; i < rows.size(); ++i) {
    const Result& q = results[i];
    std::snprintf(line, sizeof line, "| %s | %lld | %lld | %.3f | **%.3f** | %.2f | %.2f | %.2f | %.0f s |\n",
                  rows[i].name.c_str(), (long long)sizes[i].parameters, (long long)sizes[i].mlp_width, q.valid, q.test, bits(q.probe.control), bits(q.probe.near_copy), bits(q.probe.far_copy), q.seconds);
    table += line;
  }
  std::printf("\nbyte-level language modelling of %s (bits per byte; the last three columns: on bytes\n"
              "2..32 of a span spliced over each test window's end, unseen or seen 48 or 208 bytes earlier):\n\n%s",
              e.options.data_path.c_str(), table.c_str());
  io::write_file_atomically(e.out + "/results.md", [&](io::FileSink& sink) { sink.write(table); });
  train::write_line_plot(plot, e.out + "/validation_curves.png");
  std::printf("\ntable: %s/results.md\nplot: %s/validation_curves.png\n", e.out.c_str(), e.out.c_str());
  return 0;
}

}  // namespace hqlt::cli
