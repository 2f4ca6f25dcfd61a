#pragma once
// What the fused kernels' launchers share (included by .cu files only):
//
//   BlockPhases          a thread block as the phase-written kernels expect
//                        (ops/chunked/chunked_blocks.h, ops/reduce/row_blocks.h): every
//                        thread runs the phase, then the block meets at a barrier (its host
//                        stand-in is HostPhases, engine/host_phases.h);
//   max_smem_per_block   the card's shared memory per block with the opt-in (227 KB on an
//                        H100/H200), read once;
//   allow_smem           the per-kernel opt-in that dynamic shared memory over 48 KiB needs;
//   launch_blocks        the one kernel every phase-written block function runs in: thread
//                        block b calls Block(args, plan, tiles, b, BlockPhases{}) with its
//                        tiles in dynamic shared memory.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

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

template <typename T, auto Block, int Threads, typename Args, typename Plan>
__global__ void __launch_bounds__(Threads) block_kernel(Args a, Plan p) {
  extern __shared__ __align__(16) unsigned char smem[];
  Block(a, p, reinterpret_cast<T*>(smem), int64_t(blockIdx.x), BlockPhases{});
}

// Runs Block (a host/device block function instantiated for BlockPhases, e.g.
// &delta_blocks::forward_block<float, BlockPhases>) on `blocks` thread blocks of Threads
// threads with `smem_bytes` of tiles of T each; `what` names the launch in an error.
template <typename T, auto Block, int Threads, typename Args, typename Plan>
void launch_blocks(const Args& a, const Plan& p, int64_t blocks, size_t smem_bytes, const char* what) {
  if (blocks == 0) return;
  const auto kernel = block_kernel<T, Block, Threads, Args, Plan>;
  allow_smem(kernel, smem_bytes);
  kernel<<<unsigned(blocks), Threads, smem_bytes>>>(a, p);
  check_cuda(cudaGetLastError(), what, __FILE__, __LINE__);  // launch-configuration errors
}

}  // namespace hqlt::cuda
