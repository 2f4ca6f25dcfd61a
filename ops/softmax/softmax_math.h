#pragma once
// The math of softmax and log_softmax (softmax.h), written once for the CPU loops in
// softmax.cpp and the CUDA kernels in softmax.cu, plus the GPU's row algorithm (one thread
// block per row, ops/reduce/row_blocks.h) so that tests/ops/test_softmax_math.cpp runs it
// here.
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/reduce/row_blocks.h"

namespace hqlt::detail::softmax_math {

// The rows of a contiguous tensor along one dim. With shape [outer, n, inner] around that
// dim, row r (of outer·inner) starts at (r / inner)·n·inner + r % inner and steps by
// `inner`; for the last dim inner = 1 and every row is a contiguous run.
struct Rows {
  int64_t count = 0, n = 0, inner = 1;
  HQLT_HD int64_t start(int64_t r) const { return (r / inner) * n * inner + r % inner; }
};

// dx_k of softmax, acc = Σ_k g_k y_k.
template <typename T>
HQLT_HD T softmax_dx(T g, T y, T acc) {
  return y * (g - acc);
}

// dx_k of log_softmax, acc = Σ_k g_k.
template <typename T>
HQLT_HD T log_softmax_dx(T g, T y, T acc) {
  return g - std::exp(y) * acc;
}

// ---- the GPU's row algorithm ---------------------------------------------------------

// x, y, dy, dx: contiguous, of the shape that `rows` walks.
template <typename T>
struct Args {
  Rows rows;
  bool log = false;
  const T* x = nullptr;
  T* y = nullptr;
  const T* dy = nullptr;  // backward (y is then read)
  T* dx = nullptr;        // backward
};

// Phases: y of row r. s_max, s_sum: kThreads values of shared memory each (the maximum
// stays readable while the sum is reduced).
template <typename T, typename Phases>
HQLT_HD void forward_row(const Phases& phases, T* s_max, T* s_sum, int64_t r, const Args<T>& a) {
  const int64_t at = a.rows.start(r), n = a.rows.n, s = a.rows.inner;
  const T* x = a.x + at;
  T* y = a.y + at;
  const T neg_inf = row_blocks::neg_inf<T>();
  row_blocks::reduce_row(phases, s_max, n, neg_inf, [&](int64_t k) { return x[k * s]; }, row_blocks::NanMax{});
  const T m = s_max[0];
  if (m == neg_inf) {  // every entry is −inf: the defined limit (softmax.h); same branch for all threads
    phases([&](int t, int nt) {
      for (int64_t k = t; k < n; k += nt) y[k * s] = a.log ? neg_inf : T(0);
    });
    return;
  }
  if (a.log) {
    row_blocks::reduce_row(phases, s_sum, n, T(0), [&](int64_t k) { return std::exp(x[k * s] - m); },
                           row_blocks::Add{});
    phases([&](int t, int nt) {
      const T shift = m + std::log(s_sum[0]);
      for (int64_t k = t; k < n; k += nt) y[k * s] = x[k * s] - shift;
    });
  } else {
    row_blocks::reduce_row(
        phases, s_sum, n, T(0), [&](int64_t k) { return y[k * s] = std::exp(x[k * s] - m); }, row_blocks::Add{});
    phases([&](int t, int nt) {
      const T inv = T(1) / s_sum[0];
      for (int64_t k = t; k < n; k += nt) y[k * s] *= inv;
    });
  }
}

// Phases: dx of row r from dy and the saved y. s: kThreads values of shared memory.
template <typename T, typename Phases>
HQLT_HD void backward_row(const Phases& phases, T* s_acc, int64_t r, const Args<T>& a) {
  const int64_t at = a.rows.start(r), n = a.rows.n, s = a.rows.inner;
  const T* y = a.y + at;
  const T* g = a.dy + at;
  T* dx = a.dx + at;
  if (a.log)
    row_blocks::reduce_row(phases, s_acc, n, T(0), [&](int64_t k) { return g[k * s]; }, row_blocks::Add{});
  else
    row_blocks::reduce_row(
        phases, s_acc, n, T(0), [&](int64_t k) { return g[k * s] * y[k * s]; }, row_blocks::Add{});
  phases([&](int t, int nt) {
    const T acc = s_acc[0];
    for (int64_t k = t; k < n; k += nt)
      dx[k * s] = a.log ? log_softmax_dx(g[k * s], y[k * s], acc) : softmax_dx(g[k * s], y[k * s], acc);
  });
}

}  // namespace hqlt::detail::softmax_math
