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
// Throws unless this build has kernels for t's device: the CPU always, cuda when the
// build has CUDA (for ops that dispatch to a cuda kernel).
void check_device_built(const char* op, const Tensor& t);
// Throws unless t has the given rank.
void check_rank(const char* op, const char* arg, const Tensor& t, int64_t rank);

// True for 1, 2, 4, 8, ...
inline bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }
// Throws unless `size` (a chunk or block length) is a power of two in [lo, hi].
void check_power_of_two(const char* op, const char* arg, int64_t size, int64_t lo, int64_t hi);

// t itself (detached) when contiguous, else a contiguous copy; undefined stays undefined.
// What the fused kernels read, and what their backward passes save.
Tensor contiguous_detached(const Tensor& t);

// Strides that read `t` as if it had shape `target` (broadcast dims get stride 0).
Strides broadcast_strides(const Tensor& t, const Shape& target);
// The gradient of a broadcast: sums `grad` down to `shape` (the inverse of expand), on
// grad's device.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace hqlt::ops
