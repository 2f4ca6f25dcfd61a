#pragma once
// The last pass of the chunked delta-rule backward (delta_rule_blocks.h, finish_row), shared
// by the delta rule and the hybrid op's FW part (hybrid_chunk.cu): one thread per row of
// B·T·H, grid-stride, adding each slice's share of ∂L/∂Q̂, ∂L/∂K̂, ∂L/∂β in a fixed order.
// Included by .cu files only.
#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "ops/delta_rule/delta_rule_blocks.h"

namespace hqlt::detail::delta_blocks {

template <typename T>
__global__ void finish_kernel(Plan p, const T* q, const T* k, const T* part_q, const T* part_k, const T* part_beta,
                              T* dq, T* dk, T* dbeta) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < p.rows(); r += int64_t(gridDim.x) * blockDim.x)
    finish_row(p, r, q, k, part_q, part_k, part_beta, dq, dk, dbeta);
}

template <typename T>
void launch_finish(const Plan& p, const T* q, const T* k, const T* part_q, const T* part_k, const T* part_beta,
                   T* dq, T* dk, T* dbeta) {
  if (p.rows() == 0) return;
  finish_kernel<T><<<cuda::blocks_for(p.rows()), cuda::kThreads>>>(p, q, k, part_q, part_k, part_beta, dq, dk, dbeta);
  HQLT_CUDA_CHECK_LAUNCH("delta_blocks finish_kernel");
}

}  // namespace hqlt::detail::delta_blocks
