#pragma once
// What the fused kernels' launchers share (included by .cu files only):
//
//   BlockPhases          a thread block as the phase-written kernels expect
//                        (ops/chunked/chunked_blocks.h, ops/reduce/row_blocks.h): every
//                        thread runs the phase, then the block meets at a barrier (its host
//                        stand-in is HostPhases, engine/host_phases.h);
//   max_smem_per_block   the card's shared memory per block with the opt-in (227 KB on an
//                        H100/H200), read once;
//   allow_smem           the per-kernel opt-in that dynamic shared memory over 48 KiB needs.
#include <cuda_runtime.h>

#include <cstddef>

#include "engine/cuda/check.h"

namespace hqlt::cuda {

struct BlockPhases {
  template <typename F>
  __host__ __device__ void operator()(F&& f) const {
#ifdef __CUDA_ARCH__
    f(int(threadIdx.x), int(blockDim.x));
    __syncthreads();
#endif
  }
};

inline size_t max_smem_per_block() {
  static const size_t bytes = [] {
    int device = 0, value = 0;
    HQLT_CUDA_CHECK(cudaGetDevice(&device));
    HQLT_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    return size_t(value);
  }();
  return bytes;
}

template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    HQLT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

}  // namespace hqlt::cuda
