#pragma once
// Timing for the cuda_bench suite: the median of several runs, each timed with cuda events
// on the engine's stream (the default stream), after one untimed warm-up run; and the
// card's f32 peak, to print figures as a fraction of it.
#ifdef HQLT_HAS_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "engine/cuda/check.h"

namespace hqlt::testing {

inline double median_cuda_ms(const std::function<void()>& f, int reps) {
  f();
  cudaEvent_t start, stop;
  HQLT_CUDA_CHECK(cudaEventCreate(&start));
  HQLT_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<float> ms;
  for (int r = 0; r < reps; ++r) {
    HQLT_CUDA_CHECK(cudaEventRecord(start));
    f();
    HQLT_CUDA_CHECK(cudaEventRecord(stop));
    HQLT_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    HQLT_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  HQLT_CUDA_CHECK(cudaEventDestroy(start));
  HQLT_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The f32 (non-tensor-core) peak in TFLOP/s of the cards we measure on, from NVIDIA's
// datasheets (H100 SXM and H200: 132 SMs × 128 lanes × 2 FLOPs × 1.98 GHz ≈ 67); 0 when
// the card is not one of them (the benchmarks then print no fraction).
inline double f32_peak_tflops() {
  cudaDeviceProp prop{};
  int device = 0;
  HQLT_CUDA_CHECK(cudaGetDevice(&device));
  HQLT_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  if (std::strstr(prop.name, "H100") || std::strstr(prop.name, "H200")) return 67.0;
  return 0.0;
}

// True under HQLT_BENCH=full (gpu_check.sh): the full shapes; otherwise one small shape,
// so that `ctest -L cuda` stays quick and still runs each benchmark's code.
inline bool full_bench() {
  const char* mode = std::getenv("HQLT_BENCH");
  return mode != nullptr && std::strcmp(mode, "full") == 0;
}

// The fused kernels' benchmark shapes: B = 8, H = 16, d = 64 and 128,
// T = 1k / 4k / 16k, `bench(batch, heads, d, t, reps)` each (2 timed runs at 16k, 5
// otherwise); without HQLT_BENCH=full one small shape once.
inline void for_bench_shapes(const std::function<void(int64_t, int64_t, int64_t, int64_t, int)>& bench) {
  if (!full_bench()) {
    bench(2, 4, 64, 1024, 1);
    return;
  }
  for (int64_t d : {64, 128})
    for (int64_t t : {1024, 4096, 16384}) bench(8, 16, d, t, t >= 16384 ? 2 : 5);
}

// One line of a fused kernel's table: forward and forward + backward, ms, TFLOP/s and the
// fraction of the f32 peak.
inline void print_fwd_bwd(const char* what, int64_t batch, int64_t heads, int64_t d, int64_t t, double fwd_flop,
                          double bwd_flop, double fwd_ms, double both_ms) {
  const double peak = f32_peak_tflops(), fwd_tf = fwd_flop / fwd_ms / 1e9;
  const double both_tf = (fwd_flop + bwd_flop) / both_ms / 1e9;
  std::printf("%s B=%lld H=%lld d=%lld T=%-6lld  forward %9.3f ms %6.2f TFLOP/s (%4.1f%% peak)   "
              "forward+backward %9.3f ms %6.2f TFLOP/s (%4.1f%% peak)\n",
              what, (long long)batch, (long long)heads, (long long)d, (long long)t, fwd_ms, fwd_tf,
              peak > 0 ? 100 * fwd_tf / peak : 0.0, both_ms, both_tf, peak > 0 ? 100 * both_tf / peak : 0.0);
  std::fflush(stdout);
}

}  // namespace hqlt::testing
#endif
