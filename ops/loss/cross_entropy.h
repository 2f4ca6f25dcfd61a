#pragma once
// Cross-entropy from logits, fused: log-softmax, pick the target, average, in one op.
//
// For each position i (row of logits) with target y_i that is not `ignore_index`:
//
//   lse_i = m_i + log Σ_j exp(z_ij − m_i),   m_i = max_j z_ij
//   nll_i = lse_i − z_{i, y_i}
//   loss  = Σ_i w_i · nll_i / Σ_i w_i        (sums over counted positions only)
//
// with w_i = 1 (plain mean over counted positions, the causal-LM loss of
// docs/math/models.md §1.7) or w_i = mask_i (a 0/1 mask or non-negative weights,
// as used by the synthetic tasks). When nothing counts (every target is ignore_index, or
// the weights of the counted positions sum to 0) the loss is defined as 0 and every
// gradient is 0, so a batch with no supervised token is harmless rather than NaN.
// Logits may hold −inf (masked classes); a counted row whose target logit is −inf has
// loss +inf, and one that is −inf everywhere (or holds NaN) has loss NaN.
//
//   logits:  [N, V] or [..., V] (the leading dims are flattened to N); f32 or f64; any
//            strides; V >= 1
//   targets: [N] (resp. logits' leading shape [...]); i32 or i64; each value in [0, V)
//            or equal to ignore_index
//   mask:    [N] (resp. [...]), same dtype as logits, finite and >= 0; may be undefined
//            (Tensor()) for all ones
//   out:     [] (a scalar) in logits' dtype
//
// Backward saves the logits (as given, no copy when contiguous), the targets, the mask
// and the per-row log-sum-exp lse_i only — never the [N, V] softmax — and recomputes
// (docs/math/kernels.md §7.10):
//
//   dlogits_ij = (exp(z_ij − lse_i) − [j = y_i]) · g · w_i / Σ w      (0 for ignored rows)
//   dmask_i    = g · (nll_i − loss) / Σ w                              (0 for ignored rows)
//
// where g is the loss's upstream gradient. Rows run in parallel (OpenMP) when large; the
// sum over rows is taken afterwards in row order in double precision, so the result does
// not depend on the thread count. On cuda (cross_entropy.cu) one thread block handles a
// row and the rows are added in a fixed tree order in double precision; targets and mask
// are checked on the host either way. The per-element math is shared with the CPU loops
// (cross_entropy_math.h).
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask, int64_t ignore_index = -100);

}  // namespace hqlt
