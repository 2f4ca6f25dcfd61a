#pragma once
// The CUDA kernels of rms_norm and l2_normalize (norm.cu), called by norm.cpp for cuda
// tensors. Every tensor is a contiguous cuda tensor of one float dtype: x, y, dy, dx
// [rows, d] (any shape whose last dim is d), rstd [rows], w and dw [d]; w may be undefined
// (no weight). divisor is c of norm_math.h (d for RMSNorm, 1 for ℓ2). Declarations only:
// defined when the build has CUDA.
#include "engine/tensor.h"

namespace hqlt::detail {

void norm_forward_cuda(const Tensor& y, const Tensor& rstd, const Tensor& x, const Tensor& w, double divisor,
                       double eps);
void norm_backward_x_cuda(const Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& rstd, const Tensor& w,
                          double divisor);
void norm_backward_weight_cuda(const Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& rstd);

}  // namespace hqlt::detail
