#pragma once
// Elementwise ops, f32 and f64, with NumPy broadcasting for the binary ones.
//
//   binary:  a [..], b [..] (broadcastable)  -> [broadcast shape]
//   unary:   x [..]                          -> [..]
//   scalar:  x [..], s (double)              -> [..]
//
// Backward of a binary op reduces the gradient back to each input's shape (sum over the
// dims that were broadcast). Saved: the inputs (or the output, where the derivative is
// cheaper from it: exp, sigmoid, sqrt, rsqrt; nothing where it is a constant: add_scalar,
// mul_scalar, neg). The math of each op is written once, in elementwise_math.h.
#include "engine/tensor.h"

namespace hqlt {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// The smaller / larger of a and b; where they are equal the gradient goes to a.
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor pow_scalar(const Tensor& x, double p);   // x^p; for non-integer p, x must be > 0
Tensor rdiv_scalar(double s, const Tensor& x);  // s / x

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);  // gradient sign(x), 0 at 0

Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);          // x * sigmoid(x)
Tensor elu_plus_one(const Tensor& x);  // elu(x) + 1: x + 1 for x > 0, exp(x) otherwise
Tensor relu(const Tensor& x);          // max(x, 0), gradient 0 at 0
Tensor clamp_min(const Tensor& x, double lo);  // max(x, lo), gradient 0 at and below lo
// SwiGLU's product: silu(gate) * up, fused (gate and up have the same shape).
Tensor swiglu(const Tensor& gate, const Tensor& up);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }
inline Tensor operator+(double s, const Tensor& x) { return add_scalar(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return add_scalar(x, -s); }
inline Tensor operator-(double s, const Tensor& x) { return add_scalar(neg(x), s); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return mul_scalar(x, 1.0 / s); }
inline Tensor operator/(double s, const Tensor& x) { return rdiv_scalar(s, x); }

}  // namespace hqlt
