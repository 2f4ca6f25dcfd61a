#pragma once
// Timing for the cuda_bench suite (the cuBLAS ceiling, bench_gemm_cuda.cpp): the median of
// several runs, each timed with cuda events on the engine's stream (the default stream),
// after one untimed warm-up run. The fused kernels are timed by `hqlt bench ops --device cuda`.
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

// True under HQLT_BENCH=full (gpu_check.sh): the full shapes; otherwise one small shape,
// so that `ctest -L cuda` stays quick and still runs each benchmark's code.
inline bool full_bench() {
  const char* mode = std::getenv("HQLT_BENCH");
  return mode != nullptr && std::strcmp(mode, "full") == 0;
}

}  // namespace hqlt::testing
#endif
