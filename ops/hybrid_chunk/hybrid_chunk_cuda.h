#pragma once
// The CUDA kernels of hybrid_chunk (hybrid_chunk.cu), called by hybrid_chunk.cpp when the
// inputs live on cuda; only a build with CUDA defines them. Same contract as the CPU kernels
// (hybrid_chunk.h, forward_cpu / backward_cpu): every tensor contiguous, on cuda, of one
// float dtype; initial_state, d_o_fw, d_o_kv and d_final may be undefined (zero).
//
// The algorithm is hybrid_chunk_blocks.h's. The FW part runs in kernel chunks of the largest
// power of two ≤ min(fw_block_size, 64) whose tiles fit in the card's shared memory per
// block (a FW block of 128 runs as two chunks of 64 reading one state: the result is the
// op's, only the rounding differs). The KV part keeps one chunk's [C_kv, d_k] queries and
// keys and its [C_kv, C_kv] scores (twice in the backward) in shared memory; a call whose
// tiles do not fit (e.g. chunk 128 with d_k = 128 in the f32 backward) fails with a clear
// error, as does a d_k too large for the FW tiles.
#include "engine/tensor.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"

namespace hqlt::hybrid_chunk_detail {

void forward_cuda(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv,
                  const Tensor& final_state, const Tensor& lse);
Grads backward_cuda(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw,
                    const Tensor& d_o_kv, const Tensor& d_final);

}  // namespace hqlt::hybrid_chunk_detail
