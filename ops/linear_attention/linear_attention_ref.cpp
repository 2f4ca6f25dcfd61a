// linear_attention_reference: the plain full-matrix form of causal linear attention, built
// from recorded primitive ops so that autograd differentiates it independently of the
// fused kernel's hand-written backward. Per (b, h), with A = (φ(Q) φ(K)ᵀ) ⊙ M (M the causal
// mask, j ≤ t):
//
//   num = s · A V
//   z   = s · rowsum(A)                                   (time:  s φ(q_t)·Σ_{j≤t} φ(k_j))
//   z   = s · φ(q_{t,h}) · (L_H φ(K_t))_h                 (reference_heads: L_H the H×H
//                                                          lower-triangular ones matrix, a
//                                                          prefix sum over the head axis)
//   out = num / (z + eps)
//
// Memory is O(B·H·T²): for tests and benchmarks, not for training.
#include <cmath>
#include <vector>

#include "ops/elementwise/elementwise.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/views.h"

namespace hqlt {
namespace {

// An n×n matrix of ones on and below the diagonal, zeros above (no gradient).
Tensor lower_triangle_ones(int64_t n, DType dtype) {
  std::vector<double> values(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) values[size_t(i * n + j)] = 1.0;
  return from_vector(values, {n, n}, dtype);
}

}  // namespace

Tensor linear_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size,
                                  LinearAttentionNormalizer normalizer, double eps) {
  linear_attention_detail::check_arguments("linear_attention_reference", q, k, v, chunk_size, eps);
  const int64_t T = q.size(1), H = q.size(2);
  const double s = 1.0 / std::sqrt(double(q.size(3)));
  Tensor phi_q = elu_plus_one(q), phi_k = elu_plus_one(k);  // [B, T, H, d_k]

  // Head-major views [B, H, T, d] for the per-(b, h) T×T products.
  Tensor qh = phi_q.permute({0, 2, 1, 3}), kh = phi_k.permute({0, 2, 1, 3}), vh = v.permute({0, 2, 1, 3});
  Tensor scores = matmul(qh, kh, false, true) * lower_triangle_ones(T, q.dtype());  // A [B, H, T, T]
  Tensor numerator = matmul(scores, vh) * s;                                         // [B, H, T, d_v]

  Tensor z;  // [B, H, T, 1]
  if (normalizer == LinearAttentionNormalizer::time) {
    z = sum(scores, {-1}, /*keepdim=*/true) * s;
  } else {
    Tensor key_prefix = matmul(lower_triangle_ones(H, q.dtype()), phi_k);  // Σ_{h'≤h} φ(k_{t,h'}), [B, T, H, d_k]
    z = (sum(phi_q * key_prefix, {-1}, /*keepdim=*/true) * s).permute({0, 2, 1, 3});
  }
  Tensor out = numerator / (z + eps);  // [B, H, T, d_v]
  return out.permute({0, 2, 1, 3}).contiguous();
}

}  // namespace hqlt
