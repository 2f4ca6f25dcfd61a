#pragma once
// The optimiser's kernels on the GPU (optim_cuda.cu; adamw.cpp and clip.cpp call them for
// cuda parameters; clipping's scale is ops/reduce's scale_in_place_cuda). Declarations
// only: defined when the build has CUDA. T = float, double; every pointer is a contiguous
// device array of n elements.
#include <cstdint>

#include "nn/adamw_math.h"

namespace hqlt::nn {

// AdamW's update of one parameter, element by element (adamw_math.h).
template <typename T>
void adamw_update_cuda(T* p, const T* g, T* m, T* v, int64_t n, const AdamWCoefficients<T>& c);

// Σ x², in double, summed in the same order on every call (a fixed grid of per-thread
// strided sums, a fixed tree per block, the block sums added on the host in order).
template <typename T>
double sum_of_squares_cuda(const T* x, int64_t n);

}  // namespace hqlt::nn
