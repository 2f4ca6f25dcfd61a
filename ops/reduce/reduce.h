#pragma once
// Reductions over a set of dims: sum, mean, max.
//
//   x: any shape; dims: distinct dims (negative allowed; empty = all dims)
//   out: x's shape with the reduced dims removed (or kept as size 1 when keepdim)
//
// Backward: sum spreads the gradient back over the reduced dims; mean also divides by
// the count; max sends it to the first position holding the maximum (saved as an index).
// Accumulation runs in the input dtype, in a fixed order, so results are reproducible.
// On cuda (reduce.cu) x is first permuted into a contiguous [outputs, reduced elements]
// matrix and one thread block reduces each row in a fixed tree order (reduce_math.h); max
// then saves the maximum's position in that row.
#include <vector>

#include "engine/tensor.h"

namespace hqlt {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

}  // namespace hqlt
