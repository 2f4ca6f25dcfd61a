#pragma once
// Helpers for the cuda-labelled tests (TEST_SUITE("cuda")).
//
// HQLT_SKIP_WITHOUT_GPU(): first line of every cuda test that needs a GPU. When none can
// be used it prints "HQLT-SKIPPED: <reason>" and returns; CMakeLists.txt gives every test
// SKIP_REGULAR_EXPRESSION "HQLT-SKIPPED", so CTest reports the test as skipped, not passed.
//
// poison_next_allocations(): fills cached device blocks with NaN so that an op's fresh
// output, which the caching allocator hands out from those blocks, starts as NaN and any
// element the kernel leaves unwritten shows up in the comparison.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/tensor.h"

#ifdef HQLT_HAS_CUDA
#include "engine/cuda/runtime.h"
#endif

namespace hqlt::testing {

// Empty when a GPU can be used; otherwise why not.
inline std::string gpu_unavailable_reason() {
#ifdef HQLT_HAS_CUDA
  return cuda::device_count() > 0 ? std::string() : "no CUDA GPU is available on this machine";
#else
  return "this hqlt was built without CUDA (-DHQLT_CUDA=OFF)";
#endif
}

// Parks `count` NaN-filled device blocks of the size of a [numel] tensor of `dtype` in the
// allocator's cache; the next `count` allocations of that size class reuse them.
inline void poison_next_allocations(int64_t numel, DType dtype, int count = 4) {
  if (numel == 0) return;
  std::vector<Tensor> blocks;
  for (int i = 0; i < count; ++i) blocks.push_back(full({numel}, NAN, dtype, Device::cuda));
}  // the blocks go back to the cache here, NaN inside

}  // namespace hqlt::testing

#define HQLT_SKIP_WITHOUT_GPU()                                                \
  do {                                                                         \
    const std::string hqlt_skip_reason_ = ::hqlt::testing::gpu_unavailable_reason(); \
    if (!hqlt_skip_reason_.empty()) {                                          \
      std::printf("HQLT-SKIPPED: %s\n", hqlt_skip_reason_.c_str());            \
      std::fflush(stdout);                                                     \
      return;                                                                  \
    }                                                                          \
  } while (0)
