#pragma once
// Normalisations over the last dim, each fused (one pass forward, one pass backward).
//
// rms_norm (docs/math/models.md §1.1, backward as in docs/math/kernels.md §7.4): for each
// row x ∈ R^D,
//
//   r = 1 / sqrt(mean_k x_k² + eps),   x̂ = r · x,   y = x̂ ⊙ weight
//
// With g = dL/dy and ĝ = g ⊙ weight (ĝ = g without a weight):
//
//   dx      = r · (ĝ − x̂ · mean_k(ĝ_k x̂_k))
//   dweight = Σ_rows g ⊙ x̂
//
//   x:      [..., D], D >= 1, any strides; f32 or f64
//   weight: [D], same dtype as x; or undefined (Tensor()) for no weight
//   eps:    >= 0 (models use norm_eps = 1e-6)
//   out:    x's shape, contiguous
//
// ℓ2 normalisation (docs/math/models.md §1.3, backward docs/math/kernels.md §7.1), used on the
// delta rule's queries and keys: the epsilon goes inside the square root, added to the *squared*
// norm, so a zero vector maps to zero:
//
//   r = 1 / sqrt(Σ_k x_k² + eps),   y = r · x,   dx = r · (g − (y·g) · y)
//
//   x:   [..., D], D >= 1, any strides; f32 or f64
//   eps: >= 0, default 1e-6 as in the reference. (Its backward uses 1e-5 — a quirk that
//        docs/math/kernels.md §7.1 calls negligible; we differentiate our own forward exactly.)
//   out: x's shape, contiguous
//
// Both save x (no copy when contiguous) and the per-row r ([rows], the "rstd"), not y:
// x̂ = r·x is recomputed in backward. Rows run in parallel (OpenMP) when large; dweight is
// summed over rows in row order for each column (the work is split by columns), so it is
// bit-for-bit the same for any thread count. Sums run in x's dtype (fp32 statistics for
// f32, as in the reference). On cuda (norm.cu) one thread block handles a row, summing in
// a fixed tree order, and dweight is summed over fixed groups of rows, then over the
// groups in order; the row math is shared with the CPU loops (norm_math.h).
#include "engine/tensor.h"

namespace hqlt {

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps);
Tensor l2_normalize(const Tensor& x, double eps = 1e-6);

}  // namespace hqlt
