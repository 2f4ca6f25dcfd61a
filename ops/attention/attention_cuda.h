#pragma once
// The CUDA kernels of attention() (attention.cu), called by attention.cpp when the inputs
// live on cuda; only a build with CUDA defines them. Same math, layouts and saved values as
// the CPU kernels (attention.h): all tensors contiguous, on cuda, of one float dtype,
//   forward:  writes out [B, Tq, H, d_v] and lse [B, H, Tq]
//   backward: writes dq, dk, dv (shapes of q, k, v) from dout [B, Tq, H, d_v]
// Every element of every output is written (no zero-fill is needed before the call).
//
// Limits: d_k and d_v up to 128 (each is padded to 32, 64 or 128 inside the kernel);
// B·H ≤ 2^31 − 1 and at most 65535 tiles of 64 rows per sequence (T ≤ 4,194,240).
// p.tiles is ignored: the GPU tile sizes are fixed (64 × 64, attention.cu).
#include "engine/tensor.h"
#include "ops/attention/attention.h"

namespace hqlt::attention_detail {

void forward_cuda(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                  const Tensor& lse);
void backward_cuda(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                   const Tensor& lse, const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv);

}  // namespace hqlt::attention_detail
