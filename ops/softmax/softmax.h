#pragma once
// Softmax and log-softmax along one dim, each with a fused backward.
//
// For every row r of x along `dim` (all other indices fixed), with m = max_k x_k:
//
//   softmax(x)_k     = exp(x_k − m) / Σ_j exp(x_j − m)
//   log_softmax(x)_k = x_k − m − log Σ_j exp(x_j − m)
//
// Subtracting the row maximum keeps every exp in (0, 1], so nothing overflows. Entries of
// −inf are fine (they get probability 0 / log-probability −inf). A row that is −inf
// everywhere has no maximum to subtract; we define its softmax as all zeros and its
// log_softmax as all −inf (the limit of one entry → −inf at a time; this is how a fully
// masked attention row is treated), instead of the NaN that 0/0 would give. Rows holding
// +inf or NaN give NaN.
//
//   x:   any shape with rank >= 1, any strides; f32 or f64
//   dim: the dim to normalise over, negative counts from the end
//   out: x's shape, contiguous
//
// Backward saves the output y only (no copy of x), with g = dL/dy:
//   softmax:     dx = y ⊙ (g − Σ_k g_k y_k)
//   log_softmax: dx = g − exp(y) · Σ_k g_k
// Both formulas stay finite on −inf entries (there y = 0, resp. exp(y) = 0). Rows are
// independent and run in parallel (OpenMP) when the tensor is large; each row sums in a
// fixed order, so results do not depend on the thread count. On cuda (softmax.cu) one
// thread block handles a row, summing in a fixed tree order; the row math is shared with
// the CPU loops (softmax_math.h).
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace hqlt
