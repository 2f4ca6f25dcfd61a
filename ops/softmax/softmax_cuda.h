#pragma once
// The CUDA kernels of softmax and log_softmax (softmax.cu), called by softmax.cpp for cuda
// tensors. x, y, dy, dx: contiguous cuda tensors of one float dtype and of the shape that
// `rows` walks (softmax_math.h). Declarations only: defined when the build has CUDA.
#include "engine/tensor.h"
#include "ops/softmax/softmax_math.h"

namespace hqlt::detail {

void softmax_forward_cuda(const Tensor& y, const Tensor& x, const softmax_math::Rows& rows, bool log);
void softmax_backward_cuda(const Tensor& dx, const Tensor& dy, const Tensor& y, const softmax_math::Rows& rows,
                           bool log);

}  // namespace hqlt::detail
