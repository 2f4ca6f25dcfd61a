#pragma once
// The math of rms_norm and l2_normalize (norm.h), written once for the CPU loops in
// norm.cpp and the CUDA kernels in norm.cu, plus the GPU's row algorithm (one thread block
// per row, ops/reduce/row_blocks.h) so that tests/ops/test_norm_math.cpp runs it here.
//
// Both ops are one computation with divisor c of the sum of squares (c = D for RMSNorm's
// mean, c = 1 for ℓ2): r = 1 / sqrt(Σ_k x_k² / c + eps), y = r·x (⊙ w),
// dx = r · (ĝ − x̂ · Σ_k(ĝ_k x̂_k) / c) with x̂ = r·x, ĝ = g ⊙ w (or g).
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/reduce/row_blocks.h"

namespace hqlt::detail::norm_math {

// r from the row's sum of squares (docs/math/models.md §1.1, §1.3).
template <typename T>
HQLT_HD T rstd(T sum_sq, T inv_c, T eps) {
  return T(1) / std::sqrt(sum_sq * inv_c + eps);
}

// One element of the output: x·r (⊙ w).
template <typename T>
HQLT_HD T forward_elem(T x, T r, const T* w, int64_t k) {
  return w ? x * r * w[k] : x * r;
}

// ĝ_k = g_k ⊙ w_k (or g_k without a weight).
template <typename T>
HQLT_HD T g_hat(T g, const T* w, int64_t k) {
  return w ? g * w[k] : g;
}

// dx_k = r · (ĝ_k − x̂_k · coef), coef = Σ(ĝ x̂) / c (docs/math/kernels.md §7.1, §7.4).
template <typename T>
HQLT_HD T dx_elem(T gh, T x, T r, T coef) {
  return r * (gh - x * r * coef);
}

// ---- the GPU's row algorithm ---------------------------------------------------------

// Every pointer addresses contiguous [rows, d] tensors ([rows] for rstd, [d] for w).
template <typename T>
struct Args {
  int64_t rows = 0, d = 0;
  T inv_c = 1, eps = 0;
  const T* x = nullptr;
  const T* w = nullptr;  // null: no weight
  T* y = nullptr;
  T* rstd = nullptr;
  const T* dy = nullptr;  // backward
  T* dx = nullptr;        // backward
};

// Rows of dweight partials: dweight is summed over groups of kGroupRows rows, each group
// in row order (weight_partial), then the groups in order (weight_finish).
inline constexpr int64_t kGroupRows = 64;

// Phases: y and r of row i. s: kThreads values of shared memory.
template <typename T, typename Phases>
HQLT_HD void forward_row(const Phases& phases, T* s, int64_t i, const Args<T>& a) {
  const T* x = a.x + i * a.d;
  T* y = a.y + i * a.d;
  row_blocks::reduce_row(phases, s, a.d, T(0), [&](int64_t k) { return x[k] * x[k]; }, row_blocks::Add{});
  phases([&](int t, int nt) {
    const T r = rstd(s[0], a.inv_c, a.eps);
    if (t == 0) a.rstd[i] = r;
    for (int64_t k = t; k < a.d; k += nt) y[k] = forward_elem(x[k], r, a.w, k);
  });
}

// Phases: dx of row i from dy, x and the saved r.
template <typename T, typename Phases>
HQLT_HD void backward_row(const Phases& phases, T* s, int64_t i, const Args<T>& a) {
  const T* x = a.x + i * a.d;
  const T* g = a.dy + i * a.d;
  T* dx = a.dx + i * a.d;
  const T r = a.rstd[i];
  row_blocks::reduce_row(
      phases, s, a.d, T(0), [&](int64_t k) { return g_hat(g[k], a.w, k) * (x[k] * r); }, row_blocks::Add{});
  phases([&](int t, int nt) {
    const T coef = s[0] * a.inv_c;
    for (int64_t k = t; k < a.d; k += nt) dx[k] = dx_elem(g_hat(g[k], a.w, k), x[k], r, coef);
  });
}

// partial[grp, k] = Σ_{i in group grp, in order} dy_ik · x_ik · r_i.
template <typename T>
HQLT_HD void weight_partial(T* partial, int64_t grp, int64_t k, const Args<T>& a) {
  const int64_t i1 = hd_min(a.rows, (grp + 1) * kGroupRows);
  T acc = 0;
  for (int64_t i = grp * kGroupRows; i < i1; ++i) acc += a.dy[i * a.d + k] * (a.x[i * a.d + k] * a.rstd[i]);
  partial[grp * a.d + k] = acc;
}

// dweight_k = Σ_grp partial[grp, k], groups in order.
template <typename T>
HQLT_HD void weight_finish(T* dw, const T* partial, int64_t groups, int64_t k, int64_t d) {
  T acc = 0;
  for (int64_t grp = 0; grp < groups; ++grp) acc += partial[grp * d + k];
  dw[k] = acc;
}

}  // namespace hqlt::detail::norm_math
