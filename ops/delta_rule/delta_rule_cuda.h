#pragma once
// The CUDA kernels of delta_rule (delta_rule.cu), called by delta_rule.cpp when the inputs
// live on cuda; only a build with CUDA defines them. Same contract as the CPU kernels
// (delta_rule.h, detail::delta_rule_forward_cpu / delta_rule_backward_cpu): every tensor
// contiguous, on cuda, of one float dtype; initial_state, d_o and d_final may be undefined.
//
// The algorithm is delta_rule_blocks.h's. Its chunk is the largest power of two ≤
// chunk_size (and ≤ 64) whose tiles fit in the card's shared memory per block, so a
// chunk_size of 128 runs as 64; only the rounding differs. d_k up to about 200 in f32 and
// 100 in f64 fit; beyond that the call fails with a clear error.
#include "engine/tensor.h"
#include "ops/delta_rule/delta_rule.h"

namespace hqlt::detail {

void delta_rule_forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                             const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk, const Tensor& o,
                             const Tensor& final_state);
DeltaRuleGrads delta_rule_backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                        const Tensor& initial_state, const Tensor& d_o, const Tensor& d_final,
                                        int64_t chunk_size, bool l2norm_qk);

}  // namespace hqlt::detail
