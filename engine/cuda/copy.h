#pragma once
// Element-by-element kernels over tensors already on the GPU, any strides and any dtype
// (converted as a C++ cast would): what engine/tensor.cpp's copy_into, accumulate_into
// and fill call for cuda tensors. Declarations only: defined when the build has CUDA.
#include "engine/tensor.h"

namespace hqlt::cuda {

// dst[...] = src[...]; same shape, both on cuda.
void copy(const Tensor& dst, const Tensor& src);
// acc[...] += g[...]; same shape, both on cuda (gradient accumulation).
void accumulate(const Tensor& acc, const Tensor& g);
// t[...] = value.
void fill(const Tensor& t, double value);

}  // namespace hqlt::cuda
