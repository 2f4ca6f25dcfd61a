#pragma once
// strided_loop: visits every element of N tensors that share a shape but not strides
// (broadcast inputs have stride 0), in runs. Dims that are laid out back to back in every
// operand are merged first, so a contiguous tensor is one long run and the body's inner
// loop vectorises. The body is called as
//   body(std::array<int64_t, N> offsets, int64_t count, std::array<int64_t, N> steps)
// and must process `count` elements: element j of operand i sits at offsets[i] + j*steps[i].
// Outer runs are split across OpenMP threads when the tensor is large and `may_split` is
// true; a body that accumulates into shared state must pass false.
#include <array>
#include <cstdint>
#include <vector>

#include <omp.h>

#include "engine/parallel.h"
#include "engine/shape.h"

namespace hqlt {

template <size_t N, typename Body>
void strided_loop(const Shape& shape, const std::array<Strides, N>& strides, Body&& body, bool may_split = true) {
  // Coalesce: keep non-unit dims, merging a dim into the next when every operand allows it.
  std::vector<int64_t> sizes;
  std::vector<std::array<int64_t, N>> steps;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (size_t i = 0; i < N; ++i) s[i] = strides[i][d];
    if (!sizes.empty()) {
      bool mergeable = true;
      for (size_t i = 0; i < N; ++i) mergeable &= steps.back()[i] == s[i] * shape[d];
      if (mergeable) {
        sizes.back() *= shape[d];
        steps.back() = s;
        continue;
      }
    }
    sizes.push_back(shape[d]);
    steps.push_back(s);
  }
  int64_t total = numel_of(shape);
  if (total == 0) return;
  if (sizes.empty()) {  // a single element
    std::array<int64_t, N> zero{};
    body(zero, 1, zero);
    return;
  }
  const int64_t inner = sizes.back();
  const std::array<int64_t, N> inner_steps = steps.back();
  const int64_t outer_rank = int64_t(sizes.size()) - 1;
  const int64_t outer = total / inner;

  auto run_range = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    std::vector<int64_t> index(outer_rank);
    std::array<int64_t, N> base{};
    int64_t rest = begin;
    for (int64_t d = outer_rank - 1; d >= 0; --d) {
      index[d] = rest % sizes[d];
      rest /= sizes[d];
      for (size_t i = 0; i < N; ++i) base[i] += index[d] * steps[d][i];
    }
    for (int64_t o = begin; o < end; ++o) {
      body(base, inner, inner_steps);
      for (int64_t d = outer_rank - 1; d >= 0; --d) {  // odometer increment
        for (size_t i = 0; i < N; ++i) base[i] += steps[d][i];
        if (++index[d] < sizes[d]) break;
        for (size_t i = 0; i < N; ++i) base[i] -= steps[d][i] * sizes[d];
        index[d] = 0;
      }
    }
  };

  const bool split = may_split && should_parallelize(total);
  if (split && outer == 1) {  // one long run: split it
#pragma omp parallel
    {
      int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t begin = inner * t / nt, end = inner * (t + 1) / nt;
      std::array<int64_t, N> base;
      for (size_t i = 0; i < N; ++i) base[i] = begin * inner_steps[i];
      if (end > begin) body(base, end - begin, inner_steps);
    }
  } else if (split) {
#pragma omp parallel
    {
      int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      run_range(outer * t / nt, outer * (t + 1) / nt);
    }
  } else {
    run_range(0, outer);
  }
}

}  // namespace hqlt
