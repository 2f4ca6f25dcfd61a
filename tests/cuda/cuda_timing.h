#pragma once
// Timing for the cuda_bench suite: the median of several runs, each timed with cuda events
// on the engine's stream (the default stream), after one untimed warm-up run.
#ifdef HQLT_HAS_CUDA
#include <cuda_runtime.h>

#include <algorithm>
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

}  // namespace hqlt::testing
#endif
