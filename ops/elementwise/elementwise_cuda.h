#pragma once
// The elementwise ops on the GPU: one generic kernel walks any strides (broadcast inputs
// have stride 0) and runs the op's own math from elementwise_math.h, the code the CPU loops
// run, in the tensor's float type. Outputs are fresh and contiguous; f32 and f64 only.
//
// This header needs no CUDA headers (the ops include it in every build); the functions
// are defined, for every op of HQLT_UNARY_OPS and HQLT_BINARY_OPS, only when the build has
// CUDA (HQLT_HAS_CUDA).
#include "engine/tensor.h"
#include "ops/elementwise/elementwise_math.h"

namespace hqlt::detail {

// y = op(x).
template <typename Op>
Tensor unary_cuda(Op op, const Tensor& x);
// g · op'(v), where v is the op's input or its output as Op::saved says.
template <typename Op>
Tensor unary_grad_cuda(Op op, const Tensor& g, const Tensor& v);
// out = op(a, b) over the broadcast shape.
template <typename Op>
Tensor binary_cuda(Op op, const Tensor& a, const Tensor& b);
// g · ∂op/∂a (input 0) or g · ∂op/∂b (input 1) over the broadcast shape, not yet summed
// back to the input's shape.
template <typename Op>
Tensor binary_grad_cuda(Op op, int input, const Tensor& g, const Tensor& a, const Tensor& b);

}  // namespace hqlt::detail
