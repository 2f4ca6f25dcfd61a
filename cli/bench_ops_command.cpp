// hqlt bench ops: forward and forward+backward time of each fused op against its plain
// reference, on the CPU (default: the shapes of the PyTorch anchors, B=8, H=4, d=64,
// T = 256, 1024, 4096, with 1 and 2 threads) or on the GPU (--device cuda: B=8, H=16,
// d = 64 and 128, T = 1k, 4k, 16k). Medians of repeated runs after a warm-up; throughput
// from the FLOP count of the fused algorithm (docs/math/kernels.md §8, not counting what a
// kernel recomputes); peak bytes from the caching allocator's counters (the op's own
// working set, inputs excluded).
//
// The benchmarked ops, their FLOP counts and the usage text all come from the table
// `op_cases()` below: adding a fused op means adding one row.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/matmul/fma_peak.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "train/device_option.h"

namespace hqlt::cli {
namespace {

struct Shape4 {
  int64_t B, H, T, d;
};

// FLOPs of one call, forward and backward, over all (b, h).
struct Flops {
  double forward, backward;
};

// One benchmark row: a fused op (or one configuration of it) and how to run it.
struct OpCase {
  const char* op;     // the op's name in the JSON output
  int64_t chunk;      // chunk size, or 0 where it does not apply
  int64_t window;     // attention window, or 0 for none / not applicable
  int64_t reference_max_t;  // the reference is run only up to this T (it is O(T²) or per-token)
  // Runs the op once, fused or reference, on inputs made by `inputs`; returns its outputs.
  std::function<std::vector<Tensor>(const std::vector<Tensor>&, bool fused)> run;
  std::function<std::vector<Tensor>(const Shape4&, Generator&, Device)> inputs;
  // The useful FLOPs of the fused algorithm (docs/math/kernels.md §8).
  std::function<Flops(const Shape4&)> flops;
};

std::vector<Tensor> qkv_beta(const Shape4& s, Generator& gen, bool beta, Device device) {
  NoGrad no_grad;
  // As the anchors: q, k L2-normalised, beta = sigmoid(randn).
  std::vector<Tensor> xs{l2_normalize(randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)),
                         l2_normalize(randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)),
                         randn({s.B, s.T, s.H, s.d}, DType::f32, Device::cpu, 0, 1, gen)};
  if (beta) xs.push_back(sigmoid(randn({s.B, s.T, s.H}, DType::f32, Device::cpu, 0, 1, gen)));
  for (Tensor& x : xs) x = x.to(device).detach().set_requires_grad(true);
  return xs;
}

// Per (b, h) of the chunked delta rule with chunk C and d_k = d_v = d (§8): forward
// T·(10 C d + C²/3 + 6 d²), backward T·(28 C d + 4.3 C² + 16 d²).
Flops delta_rule_flops(const Shape4& s, double C) {
  const double n = double(s.B * s.H) * double(s.T), d = double(s.d);
  return {n * (10 * C * d + C * C / 3 + 6 * d * d), n * (28 * C * d + 4.3 * C * C + 16 * d * d)};
}

// Causal attention over a window of w keys (w ≤ 0: all): `pairs` query-key pairs per
// (b, h); forward 2·pairs·(d_k + d_v), backward pairs·(6 d_k + 4 d_v).
Flops attention_flops(const Shape4& s, int64_t window) {
  const double T = double(s.T), w = window > 0 ? std::min(double(window), T) : T;
  const double pairs = T * w - w * (w - 1) / 2, d = double(s.d), bh = double(s.B * s.H);
  return {bh * 2 * pairs * 2 * d, bh * pairs * 10 * d};
}

// Delayed-Chunk hybrid, chunk = FW block = C: the FW read part T·(6 C d + C²/3 + 6 d²)
// plus within-chunk attention T(C+1)·2d; backward 2.5× the FW part plus T(C+1)/2·10 d.
Flops hybrid_chunk_flops(const Shape4& s, double C) {
  const double n = double(s.B * s.H) * double(s.T), d = double(s.d);
  const double fw = n * (6 * C * d + C * C / 3 + 6 * d * d);
  return {fw + n * (C + 1) * 2 * d, 2.5 * fw + n * (C + 1) / 2 * 10 * d};
}

// Chunked linear attention: forward T·(4 C d + 4 d²), backward 2.5× that.
Flops linear_attention_flops(const Shape4& s, double C) {
  const double n = double(s.B * s.H) * double(s.T), d = double(s.d);
  const double forward = n * (4 * C * d + 4 * d * d);
  return {forward, 2.5 * forward};
}

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"delta_rule", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? delta_rule : delta_rule_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], x[3], Tensor(), 64, false).o};
       },
       [](const Shape4& s, Generator& g, Device dev) { return qkv_beta(s, g, true, dev); },
       [](const Shape4& s) { return delta_rule_flops(s, 64); }},
      {"attention", 0, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? attention : attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], true, -1, 1.0 / std::sqrt(double(x[0].size(-1))), 0)};
       },
       [](const Shape4& s, Generator& g, Device dev) { return qkv_beta(s, g, false, dev); },
       [](const Shape4& s) { return attention_flops(s, 0); }},
      {"attention", 0, 64, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? attention : attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], true, 64, 1.0 / std::sqrt(double(x[0].size(-1))), 0)};
       },
       [](const Shape4& s, Generator& g, Device dev) { return qkv_beta(s, g, false, dev); },
       [](const Shape4& s) { return attention_flops(s, 64); }},
      {"hybrid_chunk", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? hybrid_chunk : hybrid_chunk_reference;
         // The layer's q/k serve both memories: the same tensors for the FW and KV copies.
         HybridChunkOutput out = f(x[0], x[1], x[0], x[1], x[2], x[3], Tensor(), 64, 64, false, 0);
         return std::vector<Tensor>{out.o_fw, out.o_kv};
       },
       [](const Shape4& s, Generator& g, Device dev) { return qkv_beta(s, g, true, dev); },
       [](const Shape4& s) { return hybrid_chunk_flops(s, 64); }},
      {"linear_attention", 64, 0, 1024,
       [](const std::vector<Tensor>& x, bool fused) {
         auto f = fused ? linear_attention : linear_attention_reference;
         return std::vector<Tensor>{f(x[0], x[1], x[2], 64, LinearAttentionNormalizer::reference_heads, 1e-10)};
       },
       [](const Shape4& s, Generator& g, Device dev) { return qkv_beta(s, g, false, dev); },
       [](const Shape4& s) { return linear_attention_flops(s, 64); }},
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

Timing time_case(const OpCase& c, const Shape4& s, bool fused, double budget_s, Device device) {
  Generator gen{1234, 0};
  std::vector<Tensor> inputs = c.inputs(s, gen, device);
  using clock = std::chrono::steady_clock;
  // The output gradients: fixed random tensors, drawn once during the untimed warm-up.
  std::vector<Tensor> grads;
  auto run_once = [&](bool backward) {
    synchronize(device);
    auto t0 = clock::now();
    std::vector<Tensor> outs = c.run(inputs, fused);
    if (backward) {
      if (grads.empty()) {
        Generator g{99, 0};
        for (const Tensor& o : outs) grads.push_back(randn(o.shape(), o.dtype(), Device::cpu, 0, 1, g).to(device));
      }
      if (outs.size() == 1) {
        outs[0].backward(grads[0]);
      } else {  // several outputs: back-propagate Σ_i ⟨out_i, grad_i⟩
        Tensor loss = sum(mul(outs[0], grads[0]));
        for (size_t i = 1; i < outs.size(); ++i) loss = add(loss, sum(mul(outs[i], grads[i])));
        loss.backward();
      }
    }
    synchronize(device);  // a GPU's queued work counts
    double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    for (Tensor& x : inputs) x.zero_grad();
    return ms;
  };
  run_once(true);  // warm-up: fills the allocator's cache
  Timing t{};
  memory::reset_peak(device);
  size_t base = memory::stats(device).in_use;
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
  t.peak_bytes = memory::stats(device).peak - base;
  return t;
}

std::string op_names() {
  std::string names;
  for (const OpCase& c : op_cases())
    if (names.find(c.op) == std::string::npos) names += std::string(names.empty() ? "" : ", ") + c.op;
  return names;
}

std::string usage() {
  return "usage: hqlt bench ops [--device cpu|cuda] [--threads N] [--json] [--T LIST] [--d LIST] [--op NAME]\n"
         "                      [--B N] [--H N] [--budget S]\n"
         "  times each fused op (forward, forward+backward) against its plain reference;\n"
         "  the reference runs only up to T=1024 (it is O(T^2) or per-token)\n"
         "  --device D    cpu (default: B=8, H=4, d=64, T=256,1024,4096, 1 then 2 threads) or\n"
         "                cuda (B=8, H=16, d=64,128, T=1024,4096,16384)\n"
         "  --threads N   CPU: only N threads\n"
         "  --json        one JSON object per line\n"
         "  --T LIST      sequence lengths\n"
         "  --d LIST      head dims (d_k = d_v)\n"
         "  --B N --H N   batch and heads (the PyTorch anchor column needs the default B=8, H=4)\n"
         "  --op NAME     only this op (" + op_names() + ")\n"
         "  --budget S    seconds of timed runs per case (default 1.0; at least 3 runs)\n";
}

}  // namespace

int bench_ops(const Args& args) {
  std::vector<int> threads;
  std::vector<int64_t> lengths, dims;
  std::string only;
  Device device = Device::cpu;
  bool json = false;
  double budget = 1.0;
  int64_t batch = 8, heads = 0;  // heads 0: the device's default
  ArgReader r("bench ops", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    } else if (r.is("--device")) {
      device = train::parse_device(r.value(), "bench ops");
    } else if (r.is("--d")) {
      dims = r.positive_int_list();
    } else if (r.is("--json")) {
      json = true;
    } else if (r.is("--threads")) {
      threads = {int(r.positive_int())};
    } else if (r.is("--T")) {
      lengths = r.positive_int_list();
    } else if (r.is("--B")) {
      batch = r.positive_int();
    } else if (r.is("--H")) {
      heads = r.positive_int();
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
  HQLT_CHECK(any, "bench ops: unknown op '", only, "' (known: ", op_names(), ")");
  train::require_device(device, "bench ops");
  const bool gpu = device == Device::cuda;
  if (heads == 0) heads = gpu ? 16 : 4;
  const bool anchor_shape = !gpu && batch == 8 && heads == 4;
  if (lengths.empty()) lengths = gpu ? std::vector<int64_t>{1024, 4096, 16384} : std::vector<int64_t>{256, 1024, 4096};
  if (dims.empty()) dims = gpu ? std::vector<int64_t>{64, 128} : std::vector<int64_t>{64};
  if (threads.empty()) threads = gpu ? std::vector<int>{num_threads()} : std::vector<int>{1, 2};

  if (!json)
    std::printf("%-17s %6s %5s %4s %7s %3s  %10s %10s %9s %6s %10s  %10s %10s %7s\n", "op", "window", "T", "d", "impl",
                "thr", "fwd ms", "fwd+bwd ms", gpu ? "TFLOP/s" : "GFLOP/s", "%peak", "peak MiB", "torch ms",
                "vs torch", "vs ref");
  for (int t : threads) {
    // The CPU's f32 FMA ceiling on these threads, measured now: each rate's fraction of it.
    double peak_gflops = 0;
    if (!gpu) {
      set_num_threads(t);
      peak_gflops = gemm::measure_fma_peak_gflops(t);
      if (!json)
        std::printf("# f32 FMA peak, measured: %.1f GFLOP/s on %d thread%s\n", peak_gflops, t, t == 1 ? "" : "s");
    }
    for (const OpCase& c : op_cases()) {
      if (!only.empty() && only != c.op) continue;
      for (int64_t d : dims)
      for (int64_t T : lengths) {
        Shape4 s{batch, heads, T, d};
        const Flops flops = c.flops(s);
        double fused_ms = 0;
        for (bool fused : {true, false}) {
          if (!fused && T > c.reference_max_t) continue;
          Timing tm = time_case(c, s, fused, budget, device);
          // The fused algorithm's FLOPs over the time taken (for the reference too, so the
          // two rates compare like the two times).
          const double gflops_fwd = flops.forward / (tm.ms_fwd * 1e6);
          const double gflops_fwd_bwd = (flops.forward + flops.backward) / (tm.ms_fwd_bwd * 1e6);
          const char* impl = fused ? "fused" : "reference";
          if (fused) fused_ms = tm.ms_fwd_bwd;
          if (json) {
            std::printf(
                "{\"op\":\"%s\",\"impl\":\"%s\",\"device\":\"%s\",\"B\":%lld,\"H\":%lld,\"T\":%lld,"
                "\"d\":%lld,\"chunk\":%lld,\"window\":%lld,\"threads\":%d,\"ms_fwd\":%.3f,\"ms_fwd_bwd\":%.3f,"
                "\"gflops_fwd\":%.3f,\"gflops_fwd_bwd\":%.3f,\"fma_peak_gflops\":%.3f,\"fraction_of_peak\":%.4f,\"peak_bytes\":%zu}\n",
                c.op, impl, device_name(device), (long long)s.B, (long long)s.H, (long long)T, (long long)s.d,
                (long long)c.chunk, (long long)c.window, t, tm.ms_fwd, tm.ms_fwd_bwd, gflops_fwd, gflops_fwd_bwd,
                peak_gflops, peak_gflops > 0 ? gflops_fwd_bwd / peak_gflops : 0.0, tm.peak_bytes);
          } else {
            double anchor = fused && anchor_shape && d == 64 ? torch_anchor_ms(c.op, c.window, T, t) : 0;
            char torch_col[32] = "-", ratio_col[32] = "-", ref_col[32] = "-";
            if (anchor > 0) {
              std::snprintf(torch_col, sizeof torch_col, "%.1f", anchor);
              std::snprintf(ratio_col, sizeof ratio_col, "%.2fx", anchor / tm.ms_fwd_bwd);
            }
            if (!fused && fused_ms > 0) std::snprintf(ref_col, sizeof ref_col, "%.1fx", tm.ms_fwd_bwd / fused_ms);
            char peak_col[16] = "-";
            if (peak_gflops > 0) std::snprintf(peak_col, sizeof peak_col, "%.0f%%", 100 * gflops_fwd_bwd / peak_gflops);
            std::printf("%-17s %6lld %5lld %4lld %7s %3d  %10.2f %10.2f %9.2f %6s %10.1f  %10s %10s %7s\n", c.op,
                        (long long)c.window, (long long)T, (long long)d, fused ? "fused" : "ref", t, tm.ms_fwd,
                        tm.ms_fwd_bwd, gpu ? gflops_fwd_bwd / 1e3 : gflops_fwd_bwd, peak_col,
                        double(tm.peak_bytes) / (1 << 20), torch_col, ratio_col, ref_col);
          }
          std::fflush(stdout);
        }
      }
    }
  }
  if (!json)
    std::printf("%s: the fused algorithm's FLOPs (docs/math/kernels.md §8) per second of forward+backward;\n"
                "%%peak: that rate over the measured f32 FMA peak of the same threads (CPU);\n"
                "vs torch: PyTorch fwd+bwd time / ours (>1 means faster); vs ref: reference time / fused\n",
                gpu ? "TFLOP/s" : "GFLOP/s");
  return 0;
}

}  // namespace hqlt::cli
