#pragma once
// Small helpers every op uses for its argument checks and for broadcasting.
#include <string>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace hqlt::ops {

// Throws unless t is defined.
void check_defined(const char* op, const char* arg, const Tensor& t);
// Throws unless t has a float dtype.
void check_floating(const char* op, const char* arg, const Tensor& t);
// Throws unless a and b share dtype and device.
void check_same_kind(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b);
// Throws unless t lives on the CPU (for ops whose CUDA kernel is not built yet).
void check_cpu(const char* op, const Tensor& t);
// Throws unless t has the given rank.
void check_rank(const char* op, const char* arg, const Tensor& t, int64_t rank);

// Strides that read `t` as if it had shape `target` (broadcast dims get stride 0).
Strides broadcast_strides(const Tensor& t, const Shape& target);
// The gradient of a broadcast: sums `grad` down to `shape` (the inverse of expand).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace hqlt::ops
