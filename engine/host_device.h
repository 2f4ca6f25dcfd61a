#pragma once
// HQLT_HD marks a function that runs on both sides: compiled for the host by the C++
// compiler and, in .cu files, for the GPU by nvcc. Math written once this way is shared
// by an op's CPU loop and its CUDA kernel, and the CPU tests check the code the GPU runs.
#ifdef __CUDACC__
#define HQLT_HD __host__ __device__
#else
#define HQLT_HD
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

}  // namespace hqlt
