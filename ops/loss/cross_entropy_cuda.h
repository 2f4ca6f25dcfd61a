#pragma once
// The CUDA kernels of cross_entropy (cross_entropy.cu), called by cross_entropy.cpp for
// cuda logits. Every tensor is contiguous and on cuda: logits and dlogits [n, v] of one
// float dtype, targets [n] i64 (each a class index or ignore_index, checked by the
// caller), weights [n] f64 (w_i, 0 on ignored rows), lse and dmask [n] and g (the loss's
// upstream gradient, one element) in logits' dtype. Declarations only: defined when the
// build has CUDA.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt::detail {

// Writes lse; returns Σ_i w_i · nll_i (summed on the card in a fixed order, in f64).
double cross_entropy_forward_cuda(const Tensor& lse, const Tensor& logits, const Tensor& targets,
                                  const Tensor& weights, int64_t ignore_index);
void cross_entropy_logits_grad_cuda(const Tensor& dlogits, const Tensor& g, const Tensor& logits,
                                    const Tensor& targets, const Tensor& weights, const Tensor& lse,
                                    double total_weight);
void cross_entropy_mask_grad_cuda(const Tensor& dmask, const Tensor& g, const Tensor& logits, const Tensor& targets,
                                  const Tensor& lse, int64_t ignore_index, double total_weight, double loss);

}  // namespace hqlt::detail
