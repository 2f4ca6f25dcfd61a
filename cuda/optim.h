#pragma once
// The optimiser's kernels on the GPU (nn/adamw.cpp, nn/clip.cpp call them for cuda
// parameters). Declarations only: defined when the build has CUDA. T = float, double;
// every pointer is a contiguous device array of n elements.
#include <cstdint>

#include "nn/adamw_math.h"

namespace hqlt::cuda {

// AdamW's update of one parameter, element by element (nn/adamw_math.h).
template <typename T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const nn::AdamWCoefficients<T>& c);

// Σ x², in double, summed in the same order on every call (a fixed grid of per-thread
// strided sums, a fixed tree per block, the block sums added on the host in order).
template <typename T>
double sum_of_squares(const T* x, int64_t n);

// x *= c (clipping's scale; also mean's backward, ops/reduce).
template <typename T>
void scale_in_place(T* x, int64_t n, T c);

}  // namespace hqlt::cuda
