#pragma once
// Reductions on the GPU. Declarations only: defined when the build has CUDA.
#include "engine/tensor.h"

namespace hqlt::cuda {

// The gradient of a broadcast (ops::sum_to on cuda): sums `grad` (f32/f64, any strides)
// down to `shape`, which broadcasts to grad's shape. A fresh contiguous tensor; sums in f64.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace hqlt::cuda
