#pragma once
// The CUDA kernels of sum, mean and max (reduce.cu), called by reduce.cpp for cuda
// tensors. rows: a contiguous cuda [n_out, count] matrix (reduce_math.h); out, where:
// contiguous [n_out] cuda tensors (where i64). Also the gradient of a broadcast
// (ops::sum_to, ops/op_utils.cpp) and the in-place scaling that mean's backward and
// gradient clipping (nn/clip.cpp) share. Declarations only: defined when the build has
// CUDA.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt::detail {

// out = Σ over each row, times `scale` when `scaled` (mean).
void reduce_sum_cuda(const Tensor& out, const Tensor& rows, bool scaled, double scale);
// out = the maximum of each row, where = its position in the row (count >= 1).
void reduce_max_cuda(const Tensor& out, const Tensor& where, const Tensor& rows);
// drows [n_out, count] = 0 except drows[o, where[o]] = g[o]; g contiguous [n_out].
void reduce_max_backward_cuda(const Tensor& drows, const Tensor& g, const Tensor& where);
// t *= scale, element by element (t contiguous).
void reduce_scale_cuda(const Tensor& t, double scale);

// x *= c over n contiguous device elements (reduce_scale_cuda; clipping's scale,
// nn/clip.cpp). T = float, double.
template <typename T>
void scale_in_place_cuda(T* x, int64_t n, T c);

// The gradient of a broadcast (ops::sum_to on cuda): sums `grad` (f32/f64, any strides)
// down to `shape`, which broadcasts to grad's shape. A fresh contiguous tensor; sums in f64.
Tensor sum_to_cuda(const Tensor& grad, const Shape& shape);

}  // namespace hqlt::detail
