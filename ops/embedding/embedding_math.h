#pragma once
// The index arithmetic of index_select and embedding, written once for the CPU kernels
// (embedding.cpp), the CUDA kernels (embedding.cu) and their host test
// (tests/ops/test_embedding_math.cpp).
//
// x is viewed as [outer, N, inner] and the index (K values in [0, N)) picks along N:
//
//   out[o, k, c] = x[o, idx[k], c]                                   (forward: a gather)
//   dx[o, n, c]  = Σ_{k ascending, idx[k] = n, n ≠ skip} dout[o, k, c]  (backward: scatter-add)
//
// The backward runs without float atomics: every element of dx gets one GPU thread, which
// owns it and adds the positions k that pick its row n in ascending order. Those positions
// come from RowSegments, a bucketing of the index by row built on the host in O(K + N)
// (the index is on the host anyway, for the range check). The other deterministic layout,
// one thread per (row, column) walking the whole index, reads the index N times over
// (O(N·K) per column instead of O(K)): too slow for a 50k-row vocabulary. Ascending k is
// also the CPU kernel's order, so the two sums agree to the bit. The price: a row picked
// by many positions (one frequent token) makes its threads walk a long segment.
#include <cstdint>
#include <vector>

#include "engine/host_device.h"

namespace hqlt::detail {

struct RowGeometry {
  int64_t outer = 1;  // product of the dims before the indexed one
  int64_t rows = 1;   // N: size of the indexed dim in x
  int64_t picks = 1;  // K: number of indices
  int64_t inner = 1;  // product of the dims after the indexed one
};

// Element e of the contiguous out [outer, K, inner].
template <typename T>
HQLT_HD T gathered(const T* x, const int64_t* idx, const RowGeometry& g, int64_t e) {
  const int64_t c = e % g.inner, r = e / g.inner;
  const int64_t k = r % g.picks, o = r / g.picks;
  return x[(o * g.rows + idx[k]) * g.inner + c];
}

// The positions k grouped by the row they pick: segment n is order[begin[n] .. begin[n+1]),
// ascending. Positions that pick `skip_row` (-1: none) are left out, so its gradient is 0.
struct RowSegments {
  std::vector<int64_t> begin;  // [N + 1]
  std::vector<int64_t> order;  // [K minus the skipped positions]
};

inline RowSegments row_segments(const int64_t* idx, int64_t picks, int64_t rows, int64_t skip_row) {
  RowSegments s;
  s.begin.assign(size_t(rows + 1), 0);
  for (int64_t k = 0; k < picks; ++k)
    if (idx[k] != skip_row) ++s.begin[size_t(idx[k] + 1)];
  for (int64_t n = 0; n < rows; ++n) s.begin[size_t(n + 1)] += s.begin[size_t(n)];
  s.order.resize(size_t(s.begin[size_t(rows)]));
  std::vector<int64_t> next(s.begin.begin(), s.begin.end() - 1);
  for (int64_t k = 0; k < picks; ++k)
    if (idx[k] != skip_row) s.order[size_t(next[size_t(idx[k])]++)] = k;
  return s;
}

// Element e of the contiguous dx [outer, N, inner]: its segment's gradients summed in order.
template <typename T>
HQLT_HD T scattered(const T* dout, const int64_t* begin, const int64_t* order, const RowGeometry& g, int64_t e) {
  const int64_t c = e % g.inner, r = e / g.inner;
  const int64_t n = r % g.rows, o = r / g.rows;
  T acc = T(0);
  for (int64_t s = begin[n]; s < begin[n + 1]; ++s) acc += dout[(o * g.picks + order[s]) * g.inner + c];
  return acc;
}

// ---- gather (torch.gather) -------------------------------------------------------------
//
//   out[i] = x[i with i_d replaced by idx[i]]          (out and idx have index's shape)
//   dx[j]  = Σ_{p ascending, idx[line(j), p] = j_d} dout[line(j), p]
//
// where line(j) is index's line along d through j's other coordinates (zero when they lie
// outside index's shape). One thread per element of dx walks that line's `picks` entries in
// ascending order — the CPU kernel's order into a zeroed dx, so the two agree to the bit —
// with no atomics.
inline constexpr int kGatherMaxRank = 8;

struct GatherGeometry {
  int rank = 0, d = 0;
  int64_t index_shape[kGatherMaxRank] = {};
  int64_t x_shape[kGatherMaxRank] = {};
  int64_t x_strides[kGatherMaxRank] = {};  // of x as given (any strides)
};

// Element e of the contiguous out (index's shape).
template <typename T>
HQLT_HD T gather_element(const T* x, const int64_t* idx, const GatherGeometry& g, int64_t e) {
  int64_t rest = e, off = 0;
  for (int k = g.rank - 1; k >= 0; --k) {
    const int64_t i = rest % g.index_shape[k];
    rest /= g.index_shape[k];
    off += (k == g.d ? idx[e] : i) * g.x_strides[k];
  }
  return x[off];
}

// Element e of the contiguous dx (x's shape), from the contiguous dout (index's shape).
template <typename T>
HQLT_HD T gather_grad_element(const T* dout, const int64_t* idx, const GatherGeometry& g, int64_t e) {
  int64_t rest = e, line = 0, stride = 1, step_d = 1, target = 0;
  for (int k = g.rank - 1; k >= 0; --k) {
    const int64_t i = rest % g.x_shape[k];
    rest /= g.x_shape[k];
    if (k == g.d) {
      target = i;
      step_d = stride;
    } else {
      if (i >= g.index_shape[k]) return T(0);  // no line of index passes here
      line += i * stride;
    }
    stride *= g.index_shape[k];
  }
  T acc = T(0);
  for (int64_t p = 0; p < g.index_shape[g.d]; ++p)
    if (idx[line + p * step_d] == target) acc += dout[line + p * step_d];
  return acc;
}

}  // namespace hqlt::detail
