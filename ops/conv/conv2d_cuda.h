#pragma once
// The CUDA kernels of conv2d (conv2d.cu), called by conv2d.cpp for tensors on cuda; only a
// build with CUDA defines them. Every tensor contiguous, on cuda, of one float dtype.
#include "engine/tensor.h"
#include "ops/conv/conv2d_math.h"

namespace hqlt::detail {

// y from x, weight and bias (bias may be undefined).
void conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dShape& s,
                         const Tensor& y);
// dx from dy and weight.
void conv2d_input_grad_cuda(const Tensor& dy, const Tensor& weight, const Conv2dShape& s, const Tensor& dx);
// dw from dy and x, and db from dy (either output may be undefined: not wanted).
void conv2d_param_grads_cuda(const Tensor& dy, const Tensor& x, const Conv2dShape& s, const Tensor& dw,
                             const Tensor& db);

}  // namespace hqlt::detail
