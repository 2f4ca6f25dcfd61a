#pragma once
// What the chunked ops' CPU kernels (ops/delta_rule/delta_rule_cpu.cpp,
// ops/hybrid_chunk/hybrid_chunk_cpu.cpp) share: the rows of a chunk in and out through the
// ℓ2 normalisation of Q̂ and K̂, and the WY/UT step Tw = (I + L(diag(β) G))⁻¹.
//
// The two kernels sum a row's squares (and the y·g of the backward) in different orders:
// the delta rule strictly left to right, the hybrid op with `omp simd` (in vector lanes,
// then across them). Both stay as they were, chosen by RowSum, so that neither op's numbers
// change; wy_inverse has no reduction (`omp simd` only runs its independent elements side
// by side), so one version gives both ops their exact former results.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/chunked/chunked_shape.h"

namespace hqlt::detail::chunked {

// How a row's sum is taken: in_order (left to right) or simd (the order `omp simd
// reduction` picks: faster, rounded differently).
enum class RowSum { in_order, simd };

template <RowSum Order, typename T>
T row_dot(const T* x, const T* y, int64_t d) {
  T sum = 0;
  if constexpr (Order == RowSum::simd) {
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < d; ++j) sum += x[j] * y[j];
  } else {
    for (int64_t j = 0; j < d; ++j) sum += x[j] * y[j];
  }
  return sum;
}

// Copies row x into dst, ℓ2-normalised when asked (docs/math/models.md §1.3); returns the
// factor r = 1/sqrt(Σ x² + eps) (1 without ℓ2).
template <RowSum Order, typename T>
T load_row(T* dst, const T* x, int64_t d, bool l2, double eps) {
  if (!l2) {
    std::copy(x, x + d, dst);
    return T(1);
  }
  const T sum_sq = row_dot<Order>(x, x, d);
  const T r = T(1) / std::sqrt(sum_sq + T(eps));
  for (int64_t j = 0; j < d; ++j) dst[j] = x[j] * r;
  return r;
}

// The gradient of the raw row from the gradient g of its ℓ2-normalised copy y = r·x
// (docs/math/kernels.md §7.1): dx = r (g − (y·g) y). Without ℓ2 the gradient passes through.
template <RowSum Order, typename T>
void store_row_grad(T* dx, const T* g, const T* y, T r, int64_t d, bool l2) {
  if (!l2) {
    std::copy(g, g + d, dx);
    return;
  }
  const T dot = row_dot<Order>(y, g, d);
  for (int64_t j = 0; j < d; ++j) dx[j] = r * (g[j] - dot * y[j]);
}

// Tw = (I + A)⁻¹ with A = L(diag(β) G) (docs/math/kernels.md §2.2 F2–F3), by forward
// substitution: row i of Tw is e_i − Σ_{l<i} A_il · (row l of Tw), and row l is zero right
// of column l. G and Tw are c×c with leading dim ld.
template <typename T>
void wy_inverse(T* tw, const T* G, const T* b, int64_t c, int64_t ld) {
  for (int64_t i = 0; i < c; ++i) {
    T* row = tw + i * ld;
    std::fill(row, row + c, T(0));
    for (int64_t l = 0; l < i; ++l) {
      const T a = b[i] * G[i * ld + l];
      const T* prev = tw + l * ld;
#pragma omp simd
      for (int64_t j = 0; j <= l; ++j) row[j] -= a * prev[j];
    }
    row[i] = T(1);
  }
}

// E = diag(β) A + (diag(β) A)ᵀ in place over the c×c tile A (leading dim ld) from its
// strictly lower triangle, zero diagonal: the gradient of G from dA, symmetrised.
template <typename T>
void symmetrise_scaled(T* E, const T* b, int64_t c, int64_t ld) {
  for (int64_t i = 0; i < c; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      const T e = b[i] * E[i * ld + j];
      E[i * ld + j] = e;
      E[j * ld + i] = e;
    }
    E[i * ld + i] = T(0);
  }
}

// p + n, except that the null data of an empty (T = 0) tensor stays null: arithmetic on a
// null pointer is undefined even when nothing is read through the result.
template <typename T>
T* advance(T* p, int64_t n) {
  return p ? p + n : p;
}

}  // namespace hqlt::detail::chunked
