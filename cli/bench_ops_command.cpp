// hqlt bench ops: forward and forward+backward time of each fused op against its plain
// reference, at the shapes of the PyTorch anchors (B=8, H=4, d=64, T = 256, 1024, 4096),
// with 1 and 2 threads. Medians of repeated runs after a warm-up; peak bytes from the
// caching allocator's counters (the op's own working set, inputs excluded).
//
// The list of benchmarked ops is the table `kOps` below: adding a fused op means adding
// one row.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/autograd.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"

namespace hqlt::cli {
namespace {

struct Shape4 {
  int64_t B, H, T, d;
};

// One benchmark row: a fused op (or one configuration of it) and how to run it.
struct OpCase {
  const char* op;     // the op's name in the JSON output
  int64_t chunk;      // chunk size, or 0 where it does not apply
  int64_t window;     // attention window, or 0 for none / not applicable
  int64_t reference_max_t;  // the reference is run only up to this T (it is O(T²) or per-token)
  // Runs the op once, fused or reference, on inputs made by `inputs`; returns its outputs.
  std::function<std::vector<Tensor>(const std::vector<Tensor>&, bool fused)> run;
  std::function<std::vector<Tensor>(const Shape4&, Generator&)> inputs;
};

std::vector<Tensor> qkv_beta(const Shape4& s, Generator& gen, bool beta) {
  NoGrad no_grad;
  // As the anchors: q, k L2-normalised, beta = sigmoid(randn).
  std::vector<Tensor> xs{l2_normalize(randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)),
                         l2_normalize(randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)),
                         randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)};
  if (beta) xs.push_back(sigmoid(randn({s.B, s.T, s.H}, DType::f32, Device::cpu, 0, 1, gen)));
  for (Tensor& x : xs) x = x.detach().set_requires_grad(true);
  return xs;
}

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"delta_rule", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? delta_rule : delta_rule_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], x[3], Tensor(), 64, false).o};
       },
       [](const Shape4& s, Generator& g) { return qkv_beta(s, g, true); }},
      {"attention", 0, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? attention : attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], true, -1, 1.0 / std::sqrt(double(x[0].size(-1))), 0)};
       },
       [](const Shape4& s, Generator& g) { return qkv_beta(s, g, false); }},
      {"attention", 0, 64, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? attention : attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], true, 64, 1.0 / std::sqrt(double(x[0].size(-1))), 0)};
       },
       [](const Shape4& s, Generator& g) { return qkv_beta(s, g, false); }},
      {"hybrid_chunk", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? hybrid_chunk : hybrid_chunk_reference;
         // The layer's q/k serve both memories: the same tensors for the FW and KV copies.
         HybridChunkOutput out = f(x[0], x[1], x[0], x[1], x[2], x[3], Tensor(), 64, 64, false, 0);
         return std::vector<Tensor>{out.o_fw, out.o_kv};
       },
       [](const Shape4& s, Generator& g) { return qkv_beta(s, g, true); }},
      {"linear_attention", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? linear_attention : linear_attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], 64, LinearAttentionNormalizer::reference_heads, 1e-10)};
       },
       [](const Shape4& s, Generator& g) { return qkv_beta(s, g, false); }},
  };
  return cases;
}

// The PyTorch anchors (ms, fwd+bwd, median, measured with PyTorch outside this repository),
// by op, window, T and threads; 0 where there is none.
double torch_anchor_ms(const std::string& op, int64_t window, int64_t T, int threads) {
  struct Row {
    const char* op;
    int64_t window, T;
    double t1, t2;
  };
  static const Row rows[] = {
      {"delta_rule", 0, 256, 40.9, 44.1},     {"delta_rule", 0, 1024, 167.6, 149.8},
      {"delta_rule", 0, 4096, 676.9, 704.3},  {"attention", 0, 256, 35.1, 23.8},
      {"attention", 0, 1024, 467.4, 322.2},   {"attention", 0, 4096, 7496.3, 4600.4},
      {"attention", 64, 256, 24.0, 24.7},     {"attention", 64, 1024, 97.7, 111.2},
      {"attention", 64, 4096, 365.8, 404.7},
  };
  for (const Row& r : rows)
    if (op == r.op && window == r.window && T == r.T) return threads == 1 ? r.t1 : threads == 2 ? r.t2 : 0;
  return 0;
}

struct Timing {
  double ms_fwd, ms_fwd_bwd;
  size_t peak_bytes;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Timing time_case(const OpCase& c, const Shape4& s, bool fused, double budget_s) {
  Generator gen{1234, 0};
  std::vector<Tensor> inputs = c.inputs(s, gen);
  using clock = std::chrono::steady_clock;
  // The output gradients: fixed random tensors, drawn once during the untimed warm-up.
  std::vector<Tensor> grads;
  auto run_once = [&](bool backward) {
    auto t0 = clock::now();
    std::vector<Tensor> outs = c.run(inputs, fused);
    if (backward) {
      if (grads.empty()) {
        Generator g{99, 0};
        for (const Tensor& o : outs) grads.push_back(randn(o.shape(), o.dtype(), Device::cpu, 0, 1, g));
      }
      if (outs.size() == 1) {
        outs[0].backward(grads[0]);
      } else {  // several outputs: back-propagate Σ_i ⟨out_i, grad_i⟩
        Tensor loss = sum(mul(outs[0], grads[0]));
        for (size_t i = 1; i < outs.size(); ++i) loss = add(loss, sum(mul(outs[i], grads[i])));
        loss.backward();
      }
    }
    double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    for (Tensor& x : inputs) x.zero_grad();
    return ms;
  };
  run_once(true);  // warm-up: fills the allocator's cache
  Timing t{};
  memory::reset_peak();
  size_t base = memory::stats().in_use;
  std::vector<double> fwd, both;
  auto start = clock::now();
  while (both.size() < 3 || (both.size() < 20 && std::chrono::duration<double>(clock::now() - start).count() < budget_s)) {
    {
      NoGrad no_grad;  // forward alone, as in inference
      fwd.push_back(run_once(false));
    }
    both.push_back(run_once(true));
  }
  t.ms_fwd = median(fwd);
  t.ms_fwd_bwd = median(both);
  t.peak_bytes = memory::stats().peak - base;
  return t;
}

constexpr const char* kUsage =
    "usage: hqlt bench ops [--threads N] [--json] [--T 256,1024,4096] [--op NAME] [--budget S]\n"
    "  times each fused op (forward, forward+backward) against its plain reference at\n"
    "  B=8, H=4, d=64; the reference runs only up to T=1024 (it is O(T^2) or per-token)\n"
    "  --threads N   only N threads (default: 1, then 2)\n"
    "  --json        one JSON object per line\n"
    "  --T LIST      sequence lengths (default 256,1024,4096)\n"
    "  --op NAME     only this op (delta_rule, attention, hybrid_chunk, linear_attention)\n"
    "  --budget S    seconds of timed runs per case (default 1.0; at least 3 runs)\n";

}  // namespace

int bench_ops(const Args& args) {
  std::vector<int> threads{1, 2};
  std::vector<int64_t> lengths{256, 1024, 4096};
  std::string only;
  bool json = false;
  double budget = 1.0;
  ArgReader r("bench ops", args);
  while (r.next()) {
    if (r.is("--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (r.is("--json")) {
      json = true;
    } else if (r.is("--threads")) {
      threads = {int(r.positive_int())};
    } else if (r.is("--T")) {
      lengths = r.positive_int_list();
    } else if (r.is("--op")) {
      only = r.value();
    } else if (r.is("--budget")) {
      budget = r.positive_double();
    } else {
      r.unknown();
    }
  }
  bool any = false;
  for (const OpCase& c : op_cases()) any |= only.empty() || only == c.op;
  HQLT_CHECK(any, "bench ops: unknown op '", only, "' (known: delta_rule, attention, hybrid_chunk, linear_attention)");

  if (!json)
    std::printf("%-17s %6s %5s %7s %3s  %10s %10s %10s  %10s %10s %7s\n", "op", "window", "T", "impl", "thr",
                "fwd ms", "fwd+bwd ms", "peak MiB", "torch ms", "vs torch", "vs ref");
  for (int t : threads) {
    set_num_threads(t);
    for (const OpCase& c : op_cases()) {
      if (!only.empty() && only != c.op) continue;
      for (int64_t T : lengths) {
        Shape4 s{8, 4, T, 64};
        double fused_ms = 0;
        for (bool fused : {true, false}) {
          if (!fused && T > c.reference_max_t) continue;
          Timing tm = time_case(c, s, fused, budget);
          const char* impl = fused ? "fused" : "reference";
          if (fused) fused_ms = tm.ms_fwd_bwd;
          if (json) {
            std::printf(
                "{\"op\":\"%s\",\"impl\":\"%s\",\"B\":%lld,\"H\":%lld,\"T\":%lld,\"d\":%lld,\"chunk\":%lld,"
                "\"window\":%lld,\"threads\":%d,\"ms_fwd\":%.3f,\"ms_fwd_bwd\":%.3f,\"peak_bytes\":%zu}\n",
                c.op, impl, (long long)s.B, (long long)s.H, (long long)T, (long long)s.d, (long long)c.chunk,
                (long long)c.window, t, tm.ms_fwd, tm.ms_fwd_bwd, tm.peak_bytes);
          } else {
            double anchor = fused ? torch_anchor_ms(c.op, c.window, T, t) : 0;
            char torch_col[32] = "-", ratio_col[32] = "-", ref_col[32] = "-";
            if (anchor > 0) {
              std::snprintf(torch_col, sizeof torch_col, "%.1f", anchor);
              std::snprintf(ratio_col, sizeof ratio_col, "%.2fx", anchor / tm.ms_fwd_bwd);
            }
            if (!fused && fused_ms > 0) std::snprintf(ref_col, sizeof ref_col, "%.1fx", tm.ms_fwd_bwd / fused_ms);
            std::printf("%-17s %6lld %5lld %7s %3d  %10.2f %10.2f %10.1f  %10s %10s %7s\n", c.op,
                        (long long)c.window, (long long)T, fused ? "fused" : "ref", t, tm.ms_fwd, tm.ms_fwd_bwd,
                        double(tm.peak_bytes) / (1 << 20), torch_col, ratio_col, ref_col);
          }
          std::fflush(stdout);
        }
      }
    }
  }
  if (!json)
    std::printf("vs torch: PyTorch fwd+bwd time / ours (>1 means faster); vs ref: reference time / fused\n");
  return 0;
}

}  // namespace hqlt::cli
