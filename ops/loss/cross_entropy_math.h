#pragma once
// The math of cross_entropy (cross_entropy.h), written once for the CPU loops in
// cross_entropy.cpp and the CUDA kernels in cross_entropy.cu, plus the GPU's row algorithm
// (one thread block per row of logits, ops/reduce/row_blocks.h) so that
// tests/ops/test_cross_entropy_math.cpp runs it here.
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/reduce/row_blocks.h"

namespace hqlt::detail::ce_math {

// lse from the row maximum m and Σ_j exp(z_j − m); −inf for a row that is −inf everywhere
// (then there is no sum to take).
template <typename T>
HQLT_HD T lse_finish(T m, T sum_exp) {
  return m + std::log(sum_exp);
}

// One logit's gradient (docs/math/kernels.md §7.10): (exp(z − lse) − [j = y]) · scale, with
// scale = g · w_i / Σw.
template <typename T>
HQLT_HD T dlogit(T z, T lse, T scale, bool is_target) {
  const T p = std::exp(z - lse) * scale;
  return is_target ? p - scale : p;
}

// One mask weight's gradient: g · (nll_i − loss) / Σw.
template <typename T>
HQLT_HD T dmask(double g, double nll, double loss, double total_weight) {
  return T(g * (nll - loss) / total_weight);
}

// ---- the GPU's row algorithm ---------------------------------------------------------

// logits, dlogits: contiguous [n, v]; targets, weights (w_i, 0 on ignored rows), lse,
// weighted_nll, dmask: [n]; g: the loss's upstream gradient (one element).
template <typename T>
struct Args {
  int64_t n = 0, v = 0, ignore_index = -100;
  const T* z = nullptr;
  const int64_t* y = nullptr;
  const double* w = nullptr;
  T* lse = nullptr;
  double* weighted_nll = nullptr;
  // backward
  const T* g = nullptr;
  double total_weight = 0, loss = 0;
  T* dz = nullptr;
  T* dmask = nullptr;
};

// Phases: lse_i and w_i · nll_i of row i (0 and 0 on ignored rows). s_max, s_sum: kThreads
// values of shared memory each (the maximum stays readable while the sum is reduced).
template <typename T, typename Phases>
HQLT_HD void forward_row(const Phases& phases, T* s_max, T* s_sum, int64_t i, const Args<T>& a) {
  const int64_t y = a.y[i];
  if (y == a.ignore_index) {  // the same branch for every thread of the row
    phases([&](int t, int) {
      if (t == 0) a.lse[i] = 0, a.weighted_nll[i] = 0;
    });
    return;
  }
  const T* z = a.z + i * a.v;
  const T neg_inf = row_blocks::neg_inf<T>();
  row_blocks::reduce_row(phases, s_max, a.v, neg_inf, [&](int64_t j) { return z[j]; }, row_blocks::NanMax{});
  const T m = s_max[0];
  if (m != neg_inf)
    row_blocks::reduce_row(phases, s_sum, a.v, T(0), [&](int64_t j) { return std::exp(z[j] - m); },
                           row_blocks::Add{});
  phases([&](int t, int) {
    if (t != 0) return;
    const T lse = m == neg_inf ? m : lse_finish(m, s_sum[0]);
    a.lse[i] = lse;
    // An all-zero weight still skips the product: 0 · inf would be NaN.
    a.weighted_nll[i] = a.w[i] != 0 ? a.w[i] * double(lse - z[y]) : 0.0;
  });
}

// Phases: out[0] = Σ_i weighted_nll_i over n rows, in the fixed tree order. s: kThreads
// doubles of shared memory.
template <typename Phases>
HQLT_HD void sum_rows(const Phases& phases, double* s, int64_t n, const double* weighted_nll, double* out) {
  row_blocks::reduce_row(phases, s, n, 0.0, [&](int64_t i) { return weighted_nll[i]; }, row_blocks::Add{});
  phases([&](int t, int) {
    if (t == 0) out[0] = s[0];
  });
}

// dlogits element e = i·v + j.
template <typename T>
HQLT_HD void dlogit_at(int64_t e, const Args<T>& a) {
  const int64_t i = e / a.v, j = e % a.v;
  const double w = a.w[i];
  if (w == 0) {
    a.dz[e] = T(0);
    return;
  }
  const T scale = T(double(a.g[0]) * w / a.total_weight);
  a.dz[e] = dlogit(a.z[e], a.lse[i], scale, j == a.y[i]);
}

// dmask of row i (0 on ignored rows).
template <typename T>
HQLT_HD void dmask_at(int64_t i, const Args<T>& a) {
  const int64_t y = a.y[i];
  a.dmask[i] = y == a.ignore_index ? T(0)
                                   : dmask<T>(double(a.g[0]), double(a.lse[i] - a.z[i * a.v + y]), a.loss,
                                              a.total_weight);
}

}  // namespace hqlt::detail::ce_math
