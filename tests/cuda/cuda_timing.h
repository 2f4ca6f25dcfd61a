#pragma once
// Timing for the cuda_bench suite: the median of several runs, each timed with cuda events
// on the engine's stream (the default stream), after one untimed warm-up run; and the
// card's f32 peak, to print figures as a fraction of it.
#ifdef HQLT_HAS_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "cuda/check.h"

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

}  // namespace hqlt::testing
#endif
