#pragma once
// Batched matrix product with either side transposed, carried by our GEMM (gemm.h).
//
//   a: [..., M, K]  (or [..., K, M] with trans_a)
//   b: [..., K, N]  (or [..., N, K] with trans_b)
//   out: [batch..., M, N], batch = broadcast of a's and b's leading dims
//
// Transposed and otherwise strided operands are read in place when one of their last two
// dims has stride 1 (GEMM takes a row stride and a transpose flag); anything else is
// copied once. Backward (saved: a and b):
//   d op(a) = dout · op(b)ᵀ,   d op(b) = op(a)ᵀ · dout,
// each written as one more GEMM with the transpose flags folded in, then summed over
// broadcast batch dims.
#include "engine/tensor.h"

namespace hqlt {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// On cuda, lets cuBLAS run f32 GEMMs on TF32 tensor cores (a 10-bit mantissa, about 1e-3
// relative error; off unless asked for, engine/cuda/blas.h). Nothing without CUDA.
void set_matmul_allow_tf32(bool on);

}  // namespace hqlt
