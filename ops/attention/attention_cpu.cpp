// The CPU kernels of tiled softmax attention (docs/math/kernels.md §3): forward with an online
// softmax over key tiles, backward with P recomputed from the saved log-sum-exp.
//
// Layout: q, k, v, out are token-major [B, T, H, d], so the rows of one (b, h) are a
// matrix with row stride H·d; every tile product reads them in place through the GEMM's
// leading dimension (hqlt::gemm::gemm, single-threaded inside our parallel loops).
//
// Forward: one work item per (b, h, query tile), in parallel. Backward: one work item per
// (b, kv head), running its query heads in turn; each walks the key tiles J (outer) and the
// query tiles I that see J (inner), accumulating dK_J, dV_J and dQ_I straight into the
// output tensors, which no other thread touches. With fewer such items than threads, key
// tiles and query tiles become the work items instead (two passes). Every sum runs in an
// order fixed by the tile sizes alone, so any thread count gives the same bits. Idea and
// measurements: NOTES.md.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/parallel.h"
#include "ops/kernel_math.h"
#include "ops/attention/attention.h"
#include "ops/matmul/gemm.h"

namespace hqlt::attention_detail {
namespace {

using kernels::exp_nonpositive;

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// Per-thread scratch, kept between calls (fresh pages are expensive to fault in).
template <typename T>
struct Scratch {
  std::vector<T> scores;  // query_rows × key_rows: S, then P
  std::vector<T> dprob;   // query_rows × key_rows: dP, then dS
  std::vector<T> row_max, row_sum;  // query_rows
  std::vector<T> delta;             // q_len: Dl_i = Σ dO_i ⊙ O_i of one (b, h)
};
template <typename T>
Scratch<T>& scratch(const Problem& p) {
  thread_local Scratch<T> s;
  const size_t tile = size_t(p.tiles.query_rows * p.tiles.key_rows);
  if (s.scores.size() < tile) s.scores.resize(tile), s.dprob.resize(tile);
  if (s.row_max.size() < size_t(p.tiles.query_rows))
    s.row_max.resize(size_t(p.tiles.query_rows)), s.row_sum.resize(size_t(p.tiles.query_rows));
  if (s.delta.size() < size_t(p.q_len)) s.delta.resize(size_t(p.q_len));
  return s;
}

// Rows [i0, i0+rows) and keys [j0, j0+cols) of one score tile, and whether every pair in it
// is visible (then no mask is needed).
struct TileSpan {
  int64_t i0, rows, j0, cols;
};
bool fully_visible(const Problem& p, const TileSpan& t) {
  return p.first_key(t.i0 + t.rows - 1) <= t.j0 && t.j0 + t.cols - 1 <= p.last_key(t.i0);
}
// The visible columns [lo, hi) of tile row r (lo ≥ hi when the row sees none of the tile).
struct ColumnRange {
  int64_t lo, hi;
};
ColumnRange visible_columns(const Problem& p, const TileSpan& t, int64_t r) {
  const int64_t i = t.i0 + r;
  return {std::clamp<int64_t>(p.first_key(i) - t.j0, 0, t.cols),
          std::clamp<int64_t>(p.last_key(i) - t.j0 + 1, 0, t.cols)};
}

// Pointers to row 0 of one (b, h) in each tensor, and the row strides: q, dq have H·d_k
// per token, out, o, dout H·d_v; k, dk have H_kv·d_k and v, dv H_kv·d_v, read at the query
// head's kv head h / G.
template <typename T>
struct HeadView {
  const T *q, *k, *v, *o, *lse, *dout;
  T *out_o, *out_lse, *dq, *dk, *dv;
  int64_t ld_q, ld_k, ld_o, ld_v;
};

// ---- Forward ------------------------------------------------------------------------

// Online softmax over the key tiles of query tile [i0, i0 + rows) of one (b, h) (§3.1).
// The output rows double as the accumulator.
template <typename T>
void forward_query_tile(const Problem& p, const HeadView<T>& h, int64_t i0, int64_t rows, Scratch<T>& ws) {
  const int64_t bc = p.tiles.key_rows, dv = p.d_v;
  T* scores = ws.scores.data();
  T* m = ws.row_max.data();
  T* l = ws.row_sum.data();
  T* o = h.out_o + i0 * h.ld_o;
  for (int64_t r = 0; r < rows; ++r) {
    m[r] = kNegInf<T>;
    l[r] = 0;
    std::fill(o + r * h.ld_o, o + r * h.ld_o + dv, T(0));
  }
  // The key tiles that meet the band of these rows (§3.3): all others are skipped.
  const int64_t first_tile = p.first_key(i0) / bc, last_tile = p.last_key(i0 + rows - 1) / bc;
  for (int64_t jt = first_tile; jt <= last_tile; ++jt) {
    const TileSpan t{i0, rows, jt * bc, std::min(bc, p.k_len - jt * bc)};
    // S = s · Q_I K_Jᵀ
    gemm::gemm<T>(false, true, rows, t.cols, p.d_k, T(p.scale), h.q + i0 * h.ld_q, h.ld_q,
                  h.k + t.j0 * h.ld_k, h.ld_k, T(0), scores, bc);
    const bool full = fully_visible(p, t);
    for (int64_t r = 0; r < rows; ++r) {
      T* s = scores + r * bc;
      const ColumnRange c = full ? ColumnRange{0, t.cols} : visible_columns(p, t, r);
      T tile_max = kNegInf<T>;
#pragma omp simd reduction(max : tile_max)
      for (int64_t j = c.lo; j < c.hi; ++j) tile_max = s[j] > tile_max ? s[j] : tile_max;
      const T m_new = std::max(m[r], tile_max);
      if (m_new == kNegInf<T>) {  // nothing visible yet: this tile adds nothing to the row
        std::fill(s, s + t.cols, T(0));
        continue;
      }
      std::fill(s, s + c.lo, T(0));
      std::fill(s + std::max(c.lo, c.hi), s + t.cols, T(0));
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = c.lo; j < c.hi; ++j) {
        s[j] = exp_nonpositive(s[j] - m_new);
        sum += s[j];
      }
      const T alpha = exp_nonpositive(m[r] - m_new);  // 0 when m[r] = −inf
      if (alpha != T(1)) {
        T* orow = o + r * h.ld_o;
        for (int64_t d = 0; d < dv; ++d) orow[d] *= alpha;
      }
      l[r] = alpha * l[r] + sum;
      m[r] = m_new;
    }
    // acc += P V_J
    gemm::gemm<T>(false, false, rows, dv, t.cols, T(1), scores, bc, h.v + t.j0 * h.ld_v, h.ld_v, T(1), o, h.ld_o);
  }
  for (int64_t r = 0; r < rows; ++r) {  // every row saw at least its own key: l > 0
    const T inv = T(1) / l[r];
    T* orow = o + r * h.ld_o;
    for (int64_t d = 0; d < dv; ++d) orow[d] *= inv;
    h.out_lse[i0 + r] = m[r] + std::log(l[r]);
  }
}

// Roughly the multiply-adds of one pass, to decide whether threads are worth waking.
int64_t work_estimate(const Problem& p) {
  const int64_t keys_per_row = p.causal && p.window > 0 ? std::min(p.window, p.k_len) : p.k_len;
  return p.batch * p.heads * p.q_len * keys_per_row * (p.d_k + p.d_v);
}

template <typename T>
HeadView<T> head_view(const Problem& p, int64_t bh, const T* q, const T* k, const T* v) {
  const int64_t b = bh / p.heads, hd = bh % p.heads, g = hd / p.groups(), hkv = p.kv_head_count();
  HeadView<T> h{};
  h.ld_q = p.heads * p.d_k;
  h.ld_k = hkv * p.d_k;
  h.ld_o = p.heads * p.d_v;
  h.ld_v = hkv * p.d_v;
  h.q = q + (b * p.q_len * p.heads + hd) * p.d_k;
  h.k = k + (b * p.k_len * hkv + g) * p.d_k;
  h.v = v + (b * p.k_len * hkv + g) * p.d_v;
  return h;
}

template <typename T>
void forward(const Problem& p, const T* q, const T* k, const T* v, T* out, T* lse) {
  const int64_t heads_total = p.batch * p.heads;
  const int64_t q_tiles = (p.q_len + p.tiles.query_rows - 1) / p.tiles.query_rows;
  const int64_t items = heads_total * q_tiles;
  // Later query tiles see more keys under a causal mask: hand them out first.
#pragma omp parallel for schedule(dynamic, 1) if (should_parallelize(work_estimate(p)))
  for (int64_t item = 0; item < items; ++item) {
    const int64_t it = q_tiles - 1 - item / heads_total, bh = item % heads_total;
    HeadView<T> h = head_view(p, bh, q, k, v);
    const int64_t b = bh / p.heads, hd = bh % p.heads;
    h.out_o = out + (b * p.q_len * p.heads + hd) * p.d_v;
    h.out_lse = lse + bh * p.q_len;
    const int64_t i0 = it * p.tiles.query_rows;
    forward_query_tile(p, h, i0, std::min(p.tiles.query_rows, p.q_len - i0), scratch<T>(p));
  }
}

// ---- Backward -----------------------------------------------------------------------

// P = exp(S − LSE) of one tile, in place over S; invisible entries become 0.
template <typename T>
void probabilities(const Problem& p, const TileSpan& t, const T* lse, T* s) {
  const bool full = fully_visible(p, t);
  const int64_t bc = p.tiles.key_rows;
  for (int64_t r = 0; r < t.rows; ++r) {
    T* row = s + r * bc;
    const ColumnRange c = full ? ColumnRange{0, t.cols} : visible_columns(p, t, r);
    const T shift = lse[t.i0 + r];
    std::fill(row, row + c.lo, T(0));
    std::fill(row + std::max(c.lo, c.hi), row + t.cols, T(0));
#pragma omp simd
    for (int64_t j = c.lo; j < c.hi; ++j) row[j] = exp_nonpositive(row[j] - shift);
  }
}

// Dl_i = Σ_d dO_{i,d} O_{i,d} for the rows of one (b, h).
template <typename T>
void row_deltas(const Problem& p, const HeadView<T>& h, T* delta) {
  for (int64_t i = 0; i < p.q_len; ++i) {
    const T* g = h.dout + i * h.ld_o;
    const T* o = h.o + i * h.ld_o;
    T acc = 0;
    for (int64_t d = 0; d < p.d_v; ++d) acc += g[d] * o[d];
    delta[i] = acc;
  }
}

// The query tiles [first, last] that see any key of the key tile at j0 (§3.3; empty when
// first > last): the only tile pairs the backward computes.
struct TileRange {
  int64_t first, last;
  bool contains(int64_t it) const { return first <= it && it <= last; }
};
TileRange query_tiles_seeing(const Problem& p, int64_t j0, int64_t cols) {
  const int64_t first_row = p.first_query(j0), last_row = p.last_query(j0 + cols - 1);
  if (first_row > last_row) return {0, -1};
  return {first_row / p.tiles.query_rows, last_row / p.tiles.query_rows};
}

// Query tile `it` against the key tile of `cols` keys at j0.
TileSpan pair_span(const Problem& p, int64_t it, int64_t j0, int64_t cols) {
  const int64_t i0 = it * p.tiles.query_rows;
  return {i0, std::min(p.tiles.query_rows, p.q_len - i0), j0, cols};
}

// What one tile pair adds to the gradients: dK_J and dV_J, dQ_I, or all three.
enum class PairGrads { all, keys_and_values, queries };

// One tile pair of §3.2: P and dS recomputed, then the asked-for accumulations.
template <typename T>
void tile_pair(const Problem& p, const HeadView<T>& h, const TileSpan& t, const T* delta, PairGrads which,
               Scratch<T>& ws) {
  const int64_t bc = p.tiles.key_rows, dk = p.d_k, dv = p.d_v;
  T* s = ws.scores.data();
  T* ds = ws.dprob.data();
  const T* q_tile = h.q + t.i0 * h.ld_q;
  const T* do_tile = h.dout + t.i0 * h.ld_o;
  const T* k_tile = h.k + t.j0 * h.ld_k;
  const T* v_tile = h.v + t.j0 * h.ld_v;
  const bool keys = which != PairGrads::queries, queries = which != PairGrads::keys_and_values;
  // P = exp(s · Q_I K_Jᵀ − LSE_I)
  gemm::gemm<T>(false, true, t.rows, t.cols, dk, T(p.scale), q_tile, h.ld_q, k_tile, h.ld_k, T(0), s, bc);
  probabilities(p, t, h.lse, s);
  // dV_J += Pᵀ dO_I
  if (keys)
    gemm::gemm<T>(true, false, t.cols, dv, t.rows, T(1), s, bc, do_tile, h.ld_o, T(1), h.dv + t.j0 * h.ld_v, h.ld_v);
  // dP = dO_I V_Jᵀ, then dS = P ⊙ (dP − Dl_I)
  gemm::gemm<T>(false, true, t.rows, t.cols, dv, T(1), do_tile, h.ld_o, v_tile, h.ld_v, T(0), ds, bc);
  for (int64_t r = 0; r < t.rows; ++r) {
    const T* prow = s + r * bc;
    T* row = ds + r * bc;
    const T dl = delta[t.i0 + r];
#pragma omp simd
    for (int64_t j = 0; j < t.cols; ++j) row[j] = prow[j] * (row[j] - dl);
  }
  // dQ_I += s · dS K_J ;  dK_J += s · dSᵀ Q_I
  if (queries)
    gemm::gemm<T>(false, false, t.rows, dk, t.cols, T(p.scale), ds, bc, k_tile, h.ld_k, T(1), h.dq + t.i0 * h.ld_q,
                  h.ld_q);
  if (keys)
    gemm::gemm<T>(true, false, t.cols, dk, t.rows, T(p.scale), ds, bc, q_tile, h.ld_q, T(1), h.dk + t.j0 * h.ld_k,
                  h.ld_k);
}

template <typename T>
void zero_rows(T* x, int64_t rows, int64_t ld, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) std::fill(x + r * ld, x + r * ld + width, T(0));
}

// All gradients of one (b, h) (§3.2): key tiles outer, the query tiles that see them inner.
// dK and dV of the head's kv head start at zero for the first query head of its group and
// accumulate over the others (grouped-query attention).
template <typename T>
void backward_head(const Problem& p, const HeadView<T>& h, bool first_in_group, Scratch<T>& ws) {
  const int64_t bc = p.tiles.key_rows;
  T* delta = ws.delta.data();
  row_deltas(p, h, delta);
  zero_rows(h.dq, p.q_len, h.ld_q, p.d_k);
  for (int64_t j0 = 0; j0 < p.k_len; j0 += bc) {
    const int64_t cols = std::min(bc, p.k_len - j0);
    if (first_in_group) {
      zero_rows(h.dk + j0 * h.ld_k, cols, h.ld_k, p.d_k);
      zero_rows(h.dv + j0 * h.ld_v, cols, h.ld_v, p.d_v);
    }
    const TileRange seeing = query_tiles_seeing(p, j0, cols);
    for (int64_t it = seeing.first; it <= seeing.last; ++it)
      tile_pair(p, h, pair_span(p, it, j0, cols), delta, PairGrads::all, ws);
  }
}

// Pointers of one (b, h) for the backward: its rows of q, k, v, o, dO, LSE and of the
// three gradients (k, v, dk, dv at its kv head).
template <typename T>
HeadView<T> backward_view(const Problem& p, int64_t bh, const T* q, const T* k, const T* v, const T* out,
                          const T* lse, const T* dout, T* dq, T* dk, T* dv) {
  HeadView<T> h = head_view(p, bh, q, k, v);
  const int64_t b = bh / p.heads, hd = bh % p.heads, hkv = p.kv_head_count();
  const int64_t q_row0 = b * p.q_len * p.heads + hd, k_row0 = b * p.k_len * hkv + hd / p.groups();
  h.o = out + q_row0 * p.d_v;
  h.dout = dout + q_row0 * p.d_v;
  h.lse = lse + bh * p.q_len;
  h.dq = dq + q_row0 * p.d_k;
  h.dk = dk + k_row0 * p.d_k;
  h.dv = dv + k_row0 * p.d_v;
  return h;
}

template <typename T>
void backward(const Problem& p, const T* q, const T* k, const T* v, const T* out, const T* lse, const T* dout,
              T* dq, T* dk, T* dv) {
  const int64_t hkv = p.kv_head_count(), groups = p.groups(), kv_items = p.batch * hkv;
  const bool parallel = should_parallelize(work_estimate(p));
  const auto view = [&](int64_t bh) { return backward_view(p, bh, q, k, v, out, lse, dout, dq, dk, dv); };
  if (!parallel || kv_items >= omp_get_max_threads()) {
    // One work item per (b, kv head): its G query heads run in order, so dK and dV of a kv
    // head are summed by one thread in a fixed order (with G = 1, one item per (b, h)).
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int64_t bg = 0; bg < kv_items; ++bg) {
      const int64_t b = bg / hkv, g = bg % hkv;
      for (int64_t hd = g * groups; hd < (g + 1) * groups; ++hd)
        backward_head(p, view(b * p.heads + hd), /*first_in_group=*/hd == g * groups, scratch<T>(p));
    }
    return;
  }
  // Fewer (b, kv head) items than threads (a single head, say): dK, dV by key tile and dQ by
  // query tile, in parallel. Each sums in backward_head's order — dK_J, dV_J over the group's
  // heads, then over I increasing; dQ_I over J increasing — so the bits are the same; P and
  // dS are recomputed in both passes (about 7 tile GEMMs per pair instead of 5).
  const int64_t br = p.tiles.query_rows, bc = p.tiles.key_rows;
  const int64_t q_tiles = (p.q_len + br - 1) / br, k_tiles = (p.k_len + bc - 1) / bc;
  const int64_t heads_total = p.batch * p.heads;
  std::vector<T> deltas(size_t(heads_total * p.q_len));
#pragma omp parallel for schedule(static)
  for (int64_t bh = 0; bh < heads_total; ++bh) row_deltas(p, view(bh), deltas.data() + bh * p.q_len);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t item = 0; item < kv_items * k_tiles; ++item) {
    const int64_t bg = item / k_tiles, j0 = (item % k_tiles) * bc, cols = std::min(bc, p.k_len - j0);
    const int64_t b = bg / hkv, g = bg % hkv;
    for (int64_t hd = g * groups; hd < (g + 1) * groups; ++hd) {
      const int64_t bh = b * p.heads + hd;
      const HeadView<T> h = view(bh);
      if (hd == g * groups) {
        zero_rows(h.dk + j0 * h.ld_k, cols, h.ld_k, p.d_k);
        zero_rows(h.dv + j0 * h.ld_v, cols, h.ld_v, p.d_v);
      }
      const TileRange seeing = query_tiles_seeing(p, j0, cols);
      for (int64_t it = seeing.first; it <= seeing.last; ++it)
        tile_pair(p, h, pair_span(p, it, j0, cols), deltas.data() + bh * p.q_len, PairGrads::keys_and_values,
                  scratch<T>(p));
    }
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t item = 0; item < heads_total * q_tiles; ++item) {
    const int64_t bh = item / q_tiles, it = q_tiles - 1 - item % q_tiles;  // heavier (later) tiles first
    const HeadView<T> h = view(bh);
    const int64_t i0 = it * br;
    zero_rows(h.dq + i0 * h.ld_q, std::min(br, p.q_len - i0), h.ld_q, p.d_k);
    for (int64_t jt = 0; jt < k_tiles; ++jt) {
      const int64_t j0 = jt * bc, cols = std::min(bc, p.k_len - j0);
      if (query_tiles_seeing(p, j0, cols).contains(it))
        tile_pair(p, h, pair_span(p, it, j0, cols), deltas.data() + bh * p.q_len, PairGrads::queries, scratch<T>(p));
    }
  }
}

}  // namespace

void forward_cpu(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                 const Tensor& lse) {
  dispatch_float(q.dtype(), "attention", [&]<typename T>() {
    forward<T>(p, q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>());
  });
}

void backward_cpu(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                  const Tensor& lse, const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  dispatch_float(q.dtype(), "attention", [&]<typename T>() {
    backward<T>(p, q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>(), dout.data<T>(),
                dq.data<T>(), dk.data<T>(), dv.data<T>());
  });
}

}  // namespace hqlt::attention_detail
