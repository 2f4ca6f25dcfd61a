#pragma once
// The reshape family: differentiable views that share storage with their input (reshape
// copies only when the input's layout cannot be re-read in the new shape). Their
// backward passes are views or copies of the gradient, never arithmetic — except expand,
// whose backward sums over the broadcast dims. The methods on Tensor (x.reshape(...),
// x.transpose(...), ...) call these.
//
//   reshape   x [any], shape with at most one -1      -> [shape]
//   transpose x [.., d0, .., d1, ..]                   -> d0 and d1 swapped
//   permute   x [n dims], dims a permutation of 0..n-1 -> [x.shape[dims[i]]]
//   slice     x, dim, [start, end) by step > 0 (start/end clamp like Python, may be <0)
//   unsqueeze x, dim in [-(n+1), n]                    -> size-1 dim inserted
//   squeeze   x, dim of size 1                         -> that dim removed
//   expand    x, shape (sizes 1 may grow; -1 keeps)    -> broadcast view (stride 0)
//   contiguous x                                       -> row-major copy (or x itself)
#include "engine/tensor.h"

namespace hqlt {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
// Differentiable copies to another device or float dtype.
Tensor to_device(const Tensor& x, Device device);
Tensor to_dtype(const Tensor& x, DType dtype);

}  // namespace hqlt
