#pragma once
// One thread block per row: the shape the CUDA kernels of the row-wise ops (reduce, norm,
// softmax, cross_entropy) share, written once as host/device code so that the CPU tests
// run the very algorithm the GPU runs (the ops' *_math tests, e.g.
// tests/ops/test_reduce_math.cpp), as ops/delta_rule/delta_rule_blocks.h does for the
// delta rule.
//
// Phases. A row's work is a sequence of phases; in each, thread t of kThreads computes its
// own values from what earlier phases wrote, and a barrier ends the phase. HostPhases runs
// the threads one after the other, BlockPhases (.cu files only) runs them on the card.
//
// Reductions in a fixed order, no atomics: thread t folds elements t, t + P,
// t + 2P, ... in that order, then the P partials are combined by halving (s[t] ⊕= s[t+w]
// for w = P/2, ..., 1). The order depends on nothing but the row length, so every run
// gives the same bits.
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "engine/host_phases.h"

#ifdef __CUDACC__
#include "engine/cuda/blocks.cuh"
#endif

namespace hqlt::detail::row_blocks {

inline constexpr int kThreads = 128;  // threads per row (a power of two)

// Host stand-in for a thread block of kThreads: runs each phase thread by thread.
using HostPhases = hqlt::phases::HostPhases<kThreads>;

#ifdef __CUDACC__
using cuda::BlockPhases;  // a thread block of kThreads: every thread runs the phase, then a barrier
#endif

// −∞ in T, on both sides (std::numeric_limits is host-only to nvcc).
template <typename T>
HQLT_HD T neg_inf() {
  return T(-INFINITY);
}

// a + b, as a combine function.
struct Add {
  template <typename V>
  HQLT_HD V operator()(V a, V b) const {
    return a + b;
  }
};

// The larger of a and b, where NaN wins (as in max and softmax on the CPU): a row holding
// NaN must not pass for an ordinary one. Commutative, so the order of the tree is moot.
struct NanMax {
  template <typename V>
  HQLT_HD V operator()(V a, V b) const {
    return (b > a || b != b) ? b : a;
  }
};

// Phases: folds elem(0), ..., elem(n-1) with `op` into s[0] (s: kThreads values of shared
// memory). elem(k) is called by the thread that owns k; s[0] holds the result from the
// next phase on, and s is not written again by this call.
template <typename V, typename Phases, typename Elem, typename Op>
HQLT_HD void reduce_row(const Phases& phases, V* s, int64_t n, V init, const Elem& elem, const Op& op) {
  phases([&](int t, int nt) {
    V acc = init;
    for (int64_t k = t; k < n; k += nt) acc = op(acc, elem(k));
    s[t] = acc;
  });
  for (int w = kThreads / 2; w > 0; w /= 2)
    phases([&](int t, int) {
      if (t < w) s[t] = op(s[t], s[t + w]);
    });
}

}  // namespace hqlt::detail::row_blocks
