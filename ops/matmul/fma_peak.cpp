#include "ops/matmul/fma_peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "ops/matmul/gemm_simd.h"

namespace hqlt::gemm {
namespace {

constexpr int kChains = 12;
using S = detail::Simd<float>;

// kChains chains of `iterations` FMAs each; returns one lane of their sum, so the compiler
// must compute them. a·acc + b with a just under 1 keeps every value finite and normal.
float run_chains(int64_t iterations) {
  S::V acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = S::set1(float(c));
  const S::V a = S::set1(0.999999f), b = S::set1(1e-6f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = S::fmadd(acc[c], a, b);
  alignas(64) float lanes[S::width];
  float total = 0;
  for (int c = 0; c < kChains; ++c) {
    S::storeu(lanes, acc[c]);
    total += lanes[0];
  }
  return total;
}

// Seconds for `threads` threads to run `iterations` each.
double timed_run(int threads, int64_t iterations, float& sink) {
  float sum = 0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
  sum += run_chains(iterations);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sink += sum;
  return seconds;
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds) {
  threads = std::max(threads, 1);
  float sink = 0;
  int64_t iterations = 1 << 16;
  double elapsed = timed_run(threads, iterations, sink);  // also wakes the threads
  while (elapsed < 0.02) elapsed = timed_run(threads, iterations *= 4, sink);
  iterations = std::max<int64_t>(1, int64_t(double(iterations) * seconds / elapsed));
  // The best of three: a rate can only be lowered by other work on the machine.
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    const double t = timed_run(threads, iterations, sink);
    best = std::max(best, 2.0 * double(kChains) * S::width * double(iterations) * threads / t / 1e9);
  }
  return sink == -1.0f ? 0 : best;  // never true; keeps the sums alive
}

}  // namespace hqlt::gemm
