#pragma once
// The GPU's algorithm of sum, mean and max (reduce.h), written as host/device code so that
// tests/ops/test_reduce_math.cpp runs it here. The input arrives as a contiguous
// [n_out, count] matrix (x permuted so that the kept dims come first and the reduced dims
// last, in their order), one thread block reduces one row (ops/reduce/row_blocks.h).
#include <cstdint>

#include "engine/host_device.h"
#include "ops/reduce/row_blocks.h"

namespace hqlt::detail::reduce_math {

// A candidate maximum: its value and its position j in the row.
template <typename T>
struct ArgMax {
  T v;
  int64_t j;
};

// The better of two candidates, as max() on the CPU picks it walking the row in order:
// the first NaN if there is one, else the first position holding the largest value. The
// position breaks ties, so the result does not depend on the order of the tree.
struct ArgMaxOp {
  template <typename T>
  HQLT_HD ArgMax<T> operator()(const ArgMax<T>& a, const ArgMax<T>& b) const {
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    bool take_b;
    if (a_nan || b_nan)
      take_b = b_nan && (!a_nan || b.j < a.j);
    else
      take_b = b.v > a.v || (b.v == a.v && b.j < a.j);
    return take_b ? b : a;
  }
};

// The sentinel each thread starts from: −∞ at a position past every row, so that any
// element of the row (even −∞ itself) beats it.
template <typename T>
HQLT_HD ArgMax<T> no_candidate() {
  return ArgMax<T>{row_blocks::neg_inf<T>(), INT64_MAX};
}

// x: contiguous [n_out, count]; out, where: [n_out].
template <typename T>
struct Args {
  int64_t n_out = 0, count = 0;
  const T* x = nullptr;
  T* out = nullptr;
  int64_t* where = nullptr;  // max only: the position of the maximum in its row
  bool scaled = false;       // mean: out = sum · scale
  T scale = 1;
};

// Phases: out[o] = Σ_k x[o, k] (· scale). s: kThreads values of shared memory.
template <typename T, typename Phases>
HQLT_HD void sum_row(const Phases& phases, T* s, int64_t o, const Args<T>& a) {
  const T* x = a.x + o * a.count;
  row_blocks::reduce_row(phases, s, a.count, T(0), [&](int64_t k) { return x[k]; }, row_blocks::Add{});
  phases([&](int t, int) {
    if (t == 0) a.out[o] = a.scaled ? s[0] * a.scale : s[0];
  });
}

// Phases: out[o] = max_k x[o, k] and where[o] its position (count >= 1).
template <typename T, typename Phases>
HQLT_HD void max_row(const Phases& phases, ArgMax<T>* s, int64_t o, const Args<T>& a) {
  const T* x = a.x + o * a.count;
  row_blocks::reduce_row(
      phases, s, a.count, no_candidate<T>(), [&](int64_t k) { return ArgMax<T>{x[k], k}; }, ArgMaxOp{});
  phases([&](int t, int) {
    if (t == 0) a.out[o] = s[0].v, a.where[o] = s[0].j;
  });
}

// max's backward for output o: dx[o, where[o]] = g[o] (dx: [n_out, count], zero elsewhere).
template <typename T>
HQLT_HD void max_backward_at(int64_t o, T* dx, const T* g, const int64_t* where, int64_t count) {
  dx[o * count + where[o]] = g[o];
}

}  // namespace hqlt::detail::reduce_math
