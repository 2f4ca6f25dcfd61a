#pragma once
// HQLT_HD marks a function that runs on both sides: compiled for the host by the C++
// compiler and, in .cu files, for the GPU by nvcc. Math written once this way is shared
// by an op's CPU loop and its CUDA kernel, and the CPU tests check the code the GPU runs.
#include <cstdint>
#ifndef __CUDA_ARCH__
#include <bit>
#endif

#ifdef __CUDACC__
#define HQLT_HD __host__ __device__
#define HQLT_ALWAYS_INLINE __forceinline__
#else
#define HQLT_HD
// For the small math functions a vectorised loop calls: a call the compiler declined to
// inline would stop the loop from vectorising.
#define HQLT_ALWAYS_INLINE [[gnu::always_inline]] inline
#endif

namespace hqlt {

// std::min / std::max are host functions to nvcc (without --expt-relaxed-constexpr).
template <typename T>
HQLT_HD T hd_min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
HQLT_HD T hd_max(T a, T b) {
  return a < b ? b : a;
}

// The float whose bits are `bits` (std::bit_cast is a host function to nvcc).
HQLT_HD inline float hd_bit_cast_float(int32_t bits) {
#ifdef __CUDA_ARCH__
  return __int_as_float(bits);
#else
  return std::bit_cast<float>(bits);
#endif
}

}  // namespace hqlt
