// hqlt bench gemm: GFLOP/s of our CPU GEMM on square and training-shaped products.
//
//   hqlt bench gemm [--threads N] [--json] [--dtype f32|f64]
//
// Shapes (m, n, k): 512^3, 1024^3, 2048^3, and the shapes of one Linear layer of the
// small models with 10240 tokens per step: 10240x128x128, 10240x512x128, 10240x128x512,
// and the weight gradient 128x128x10240. Each in three layouts, all writing C[m, n]:
//   NN  C = A[m,k] B[k,n]      (dX = dY W in a Linear backward)
//   NT  C = A[m,k] B[n,k]^T    (Y = X W^T, the Linear forward)
//   TN  C = A[k,m]^T B[k,n]    (dW = dY^T X, the weight gradient)
// Per case: two warm-up calls, then timed calls until 0.3 s and at least 3 calls; the
// median is reported. The anchor column is OpenBLAS's AVX-512 sgemm at 2 threads on a
// 2-core AVX-512 VM (bench/RESULTS.md says how it was measured); compare ratios, not absolute figures.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "ops/matmul/gemm.h"

namespace hqlt::cli {
namespace {

struct GemmShape {
  int64_t m, n, k;
  double openblas_2t_gflops;  // anchor, f32
};

constexpr GemmShape kShapes[] = {
    {512, 512, 512, 296},     {1024, 1024, 1024, 313}, {2048, 2048, 2048, 355},
    {10240, 128, 128, 192},   {10240, 512, 128, 250},  {10240, 128, 512, 239},
    {128, 128, 10240, 196},
};

struct Layout {
  const char* name;
  bool trans_a, trans_b;
};
constexpr Layout kLayouts[] = {{"NN", false, false}, {"NT", false, true}, {"TN", true, false}};

struct Options {
  std::vector<int> threads = {1, 2};
  bool json = false;
  bool f64 = false;
};

constexpr const char* kUsage =
    "usage: hqlt bench gemm [--threads N] [--json] [--dtype f32|f64]\n"
    "  --threads N   run with N OpenMP threads only (default: 1, then 2)\n"
    "  --json        one JSON object per line per case instead of a table\n"
    "  --dtype T     f32 (default) or f64\n";

// Fills opt from the arguments; false after --help. Bad input throws hqlt::Error.
bool parse_options(const Args& args, Options& opt) {
  ArgReader r("bench gemm", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kUsage, stdout);
      return false;
    } else if (r.is("--json")) {
      opt.json = true;
    } else if (r.is("--threads")) {
      opt.threads = {int(r.positive_int())};
    } else if (r.is("--dtype")) {
      const std::string value = r.value();
      HQLT_CHECK(value == "f32" || value == "f64", "bench gemm: option --dtype expects f32 or f64, got '", value,
                 "'");
      opt.f64 = value == "f64";
    } else {
      r.unknown();
    }
  }
  return true;
}

// Fixed-seed values in [-1, 1), so every run multiplies the same matrices.
template <typename T>
std::vector<T> random_matrix(int64_t count, uint64_t seed) {
  std::vector<T> values(static_cast<size_t>(count));
  uint64_t state = seed;
  for (T& x : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x = static_cast<T>(static_cast<double>(state >> 40) / 16777216.0 * 2.0 - 1.0);
  }
  return values;
}

// Median seconds of one C = op(A) op(B) call (beta = 0, alpha = 1).
template <typename T>
double median_seconds(const GemmShape& s, const Layout& layout, const T* a, const T* b,
                      T* c) {
  const int64_t lda = layout.trans_a ? s.m : s.k;
  const int64_t ldb = layout.trans_b ? s.k : s.n;
  const auto call = [&] {
    gemm::gemm<T>(layout.trans_a, layout.trans_b, s.m, s.n, s.k, T(1), a, lda, b, ldb, T(0),
                  c, s.n);
  };
  using Clock = std::chrono::steady_clock;
  call();
  call();
  std::vector<double> times;
  double total = 0;
  while ((total < 0.3 || times.size() < 3) && times.size() < 1000) {
    const auto start = Clock::now();
    call();
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    times.push_back(t);
    total += t;
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

template <typename T>
void run_all(const Options& opt) {
  const char* dtype = opt.f64 ? "f64" : "f32";
  if (!opt.json) {
    std::printf("hqlt bench gemm: kernel %s, dtype %s, median of >= 3 calls (>= 0.3 s)\n",
                gemm::kernel_name(), dtype);
    std::printf("%6s %6s %6s %6s %7s %9s %14s %6s\n", "m", "n", "k", "layout", "threads",
                "GFLOP/s", "OpenBLAS 2t*", "ratio");
  }
  for (const GemmShape& s : kShapes) {
    const std::vector<T> a = random_matrix<T>(s.m * s.k, 1);
    const std::vector<T> b = random_matrix<T>(s.k * s.n, 2);
    std::vector<T> c(static_cast<size_t>(s.m * s.n));
    for (const Layout& layout : kLayouts) {
      for (const int threads : opt.threads) {
        omp_set_num_threads(threads);
        const double seconds = median_seconds<T>(s, layout, a.data(), b.data(), c.data());
        const double gflops = 2.0 * s.m * s.n * s.k / seconds * 1e-9;
        if (opt.json) {
          std::printf("{\"op\":\"gemm\",\"dtype\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,"
                      "\"layout\":\"%s\",\"threads\":%d,\"gflops\":%.2f}\n",
                      dtype, static_cast<long long>(s.m), static_cast<long long>(s.n),
                      static_cast<long long>(s.k), layout.name, threads, gflops);
        } else if (threads == 2 && !opt.f64) {
          std::printf("%6lld %6lld %6lld %6s %7d %9.1f %14.0f %6.2f\n",
                      static_cast<long long>(s.m), static_cast<long long>(s.n),
                      static_cast<long long>(s.k), layout.name, threads, gflops,
                      s.openblas_2t_gflops, gflops / s.openblas_2t_gflops);
        } else {
          std::printf("%6lld %6lld %6lld %6s %7d %9.1f %14s %6s\n",
                      static_cast<long long>(s.m), static_cast<long long>(s.n),
                      static_cast<long long>(s.k), layout.name, threads, gflops, "", "");
        }
        std::fflush(stdout);
      }
    }
  }
  if (!opt.json)
    std::printf("* OpenBLAS 0.3.21 sgemm, AVX-512 kernel, 2 threads, 2-core AVX-512 VM "
                "(bench/RESULTS.md)\n");
}

}  // namespace

int bench_gemm(const Args& args) {
  Options opt;
  if (!parse_options(args, opt)) return 0;
  const int threads_before = omp_get_max_threads();
  if (opt.f64)
    run_all<double>(opt);
  else
    run_all<float>(opt);
  omp_set_num_threads(threads_before);
  return 0;
}

}  // namespace hqlt::cli
