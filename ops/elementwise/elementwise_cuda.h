#pragma once
// The elementwise ops on the GPU: one generic kernel walks any strides (broadcast inputs
// have stride 0) and picks the op's math by kind. The math mirrors ops/elementwise/
// elementwise.cpp line by line, in the tensor's own float type, so GPU and CPU agree to
// rounding. Outputs are fresh and contiguous; f32 and f64 only.
//
// This header needs no CUDA headers (the ops include it in every build); the functions
// are defined only when the build has CUDA (HQLT_HAS_CUDA).
#include "engine/tensor.h"

namespace hqlt::detail {

enum class UnaryKind {
  add_scalar, mul_scalar, pow, rdiv_scalar, neg, exp, log, sqrt, rsqrt, abs, sigmoid, silu, elu_plus_one
};
enum class BinaryKind { add, sub, mul, div, swiglu };

// A unary op and its scalar operand (s in x + s, x * s, x^s, s / x; unused otherwise).
struct UnaryFn {
  UnaryKind kind;
  double scalar = 0;
};

// y = f(x).
Tensor unary_cuda(const char* op, UnaryFn fn, const Tensor& x);
// g * f'(v), where v is the op's input or its output as the op saves (see elementwise.cpp).
Tensor unary_grad_cuda(const char* op, UnaryFn fn, const Tensor& g, const Tensor& v);
// out = f(a, b) over the broadcast shape.
Tensor binary_cuda(const char* op, BinaryKind kind, const Tensor& a, const Tensor& b);
// g * ∂f/∂a (input 0) or g * ∂f/∂b (input 1) over the broadcast shape, not yet summed
// back to the input's shape.
Tensor binary_grad_cuda(const char* op, BinaryKind kind, int input, const Tensor& g, const Tensor& a, const Tensor& b);

}  // namespace hqlt::detail
