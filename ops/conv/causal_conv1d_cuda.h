#pragma once
// The CUDA kernels of causal_conv1d (causal_conv1d.cu), called by causal_conv1d.cpp for
// tensors on cuda; only a build with CUDA defines them. Same contract as the CPU loops:
// every tensor contiguous, on cuda, of one float dtype; x, dy, out [B, T, Ch], taps [K, Ch].
#include "engine/tensor.h"
#include "ops/conv/causal_conv1d_math.h"

namespace hqlt::detail {

// out = Σ_j taps[j] · in shifted by ∓(K-1-j) (shifted_tap_value): y, or dx when anti-causal.
void conv_shifted_tap_sum_cuda(const Tensor& in, const Tensor& taps, const ConvShape& s, bool anti_causal,
                               const Tensor& out);
// dw [Ch, K] (any contiguous shape of Ch·K elements) from dy and x, reduced in fixed row blocks.
void conv_weight_gradient_cuda(const Tensor& dy, const Tensor& x, const ConvShape& s, const Tensor& dw);

}  // namespace hqlt::detail
