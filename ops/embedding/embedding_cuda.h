#pragma once
// The CUDA kernels of index_select, embedding and gather (embedding.cu), called by embedding.cpp
// when the table lives on cuda; only a build with CUDA defines them. The index arrives as a
// contiguous i64 tensor on the host (already range-checked there) and is uploaded here;
// x, dout and the outputs are contiguous, on cuda, of one float dtype. The math is
// embedding_math.h's.
#include <cstdint>

#include "engine/tensor.h"
#include "ops/embedding/embedding_math.h"

namespace hqlt::detail {

// out [outer, K, inner] = x [outer, N, inner] picked along N.
void gather_rows_cuda(const Tensor& x, const Tensor& idx_host, const RowGeometry& g, const Tensor& out);
// dx [outer, N, inner] = the scatter-add of dout [outer, K, inner]; every element written.
void scatter_rows_cuda(const Tensor& dout, const Tensor& idx_host, const RowGeometry& g, int64_t skip_row,
                       const Tensor& dx);

// gather: out (contiguous, index's shape) from x (any strides) and dx (contiguous, x's
// shape, every element written) from dout (contiguous); idx is the host's contiguous i64.
void gather_cuda(const Tensor& x, const Tensor& idx_host, const GatherGeometry& g, const Tensor& out);
void gather_backward_cuda(const Tensor& dout, const Tensor& idx_host, const GatherGeometry& g, const Tensor& dx);

}  // namespace hqlt::detail
