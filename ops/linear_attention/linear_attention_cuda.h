#pragma once
// The CUDA kernels of linear_attention (linear_attention.cu), called by
// linear_attention.cpp when the inputs live on cuda; only a build with CUDA defines them.
// Same contract as the CPU kernels (linear_attention.h, forward_cpu / backward_cpu): every
// tensor contiguous, on cuda, of one float dtype; out, z, dq, dk, dv allocated by the caller
// and overwritten.
//
// The algorithm is linear_attention_blocks.h's. Its chunk is the largest power of two ≤
// chunk_size (and ≤ 64) whose tiles fit in the card's shared memory per block; only the
// rounding differs. d_k up to about 400 in f32 and 200 in f64 fit; beyond that the call
// fails with a clear error.
#include "engine/tensor.h"
#include "ops/linear_attention/linear_attention.h"

namespace hqlt::linear_attention_detail {

void forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& z,
                  const Problem& dims, LinearAttentionNormalizer normalizer, double eps);
void backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& z, const Tensor& out,
                   const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv, const Problem& dims,
                   LinearAttentionNormalizer normalizer, double eps);

}  // namespace hqlt::linear_attention_detail
