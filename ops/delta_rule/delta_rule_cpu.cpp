// The chunkwise delta rule on the CPU: forward (docs/math/kernels.md §2.2) and hand-written
// backward (§2.3), one (batch, head) pair per OpenMP task. Inside a task every product is a small
// GEMM on [C, d] or [C, C] tiles (hqlt::gemm::gemm runs single-threaded inside the parallel
// loop), so the only sequential work over the sequence is the d_k×d_v state update per
// chunk. The derivation, and why some steps differ in form from the tables of
// docs/math/kernels.md §2.2–2.3, is in NOTES.md.
//
// Notation per chunk (c rows, c = C except maybe the last): Q̂, K̂ [c, d_k] (ℓ2-normalised
// when asked), V [c, d_v], β [c], K_b = diag(β) K̂, G = K̂ K̂ᵀ, Tw = (I + L(diag(β) G))⁻¹,
// Δ = Tw (V_b − K_b S_n) [c, d_v], P = (Q̂ K̂ᵀ) ⊙ M, s = d_k^{-1/2}.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "engine/parallel.h"
#include "ops/chunked/chunked_cpu.h"
#include "ops/kernel_math.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/matmul/gemm.h"

namespace hqlt::detail {
namespace {

using kernels::Arena;

using gemm::gemm;
using gemm::gemm_columns;

using chunked::RowSum;
using chunked::wy_inverse;

// The sizes of one call (B, T, H, d_k, d_v) and its chunking: the Problem, as every fused op names it.
struct Problem : chunked::ChunkedShape {
  int64_t C = 0;       // chunk size
  int64_t chunks = 0;  // ceil(T / C)
  bool l2 = false;
  double scale = 1;    // s = d_k^{-1/2}

  int64_t heads() const { return B * H; }
  int64_t chunk_rows(int64_t n) const { return std::min(C, T - n * C); }
};

Problem problem_of(const Tensor& q, const Tensor& v, int64_t chunk_size, bool l2) {
  Problem g;
  g.B = q.size(0), g.T = q.size(1), g.H = q.size(2), g.dk = q.size(3), g.dv = v.size(3);
  g.C = chunk_size;
  g.chunks = (g.T + g.C - 1) / g.C;
  g.l2 = l2;
  g.scale = 1.0 / std::sqrt(double(g.dk));
  return g;
}

// One (batch, head) pair's rows in the token-major [B, T, H, d] tensors: row t of the pair
// starts at base + t·H·d (and β_t at beta + t·H).
template <typename T>
struct HeadInputs {
  const T *q, *k, *v, *beta;
  int64_t k_stride, v_stride, beta_stride;
};

template <typename T>
HeadInputs<T> head_inputs(const Problem& g, int64_t b, int64_t h, const T* q, const T* k, const T* v,
                          const T* beta) {
  const int64_t row_k = (b * g.T * g.H + h) * g.dk, row_v = (b * g.T * g.H + h) * g.dv;
  using chunked::advance;
  return {advance(q, row_k), advance(k, row_k), advance(v, row_v), advance(beta, b * g.T * g.H + h),
          g.H * g.dk, g.H * g.dv, g.H};
}

// One chunk's inputs copied into contiguous tiles.
template <typename T>
struct ChunkRows {
  T* q;   // [C, d_k]  Q̂
  T* k;   // [C, d_k]  K̂
  T* kb;  // [C, d_k]  K_b = diag(β) K̂
  T* v;   // [C, d_v]
  T* b;   // [C]       β
  T* rq;  // [C]       ℓ2 factors 1/sqrt(Σ q² + ε) of the raw rows (1 without ℓ2)
  T* rk;  // [C]

  static ChunkRows carve(Arena<T>& a, const Problem& g) {
    ChunkRows r;
    r.q = a.take(g.C * g.dk), r.k = a.take(g.C * g.dk), r.kb = a.take(g.C * g.dk), r.v = a.take(g.C * g.dv);
    r.b = a.take(g.C), r.rq = a.take(g.C), r.rk = a.take(g.C);
    return r;
  }
};

// The rows in and out through the ℓ2 normalisation (ops/chunked/chunked_cpu.h), with this
// op's ε and its left-to-right sums.
template <typename T>
T load_row(T* dst, const T* x, int64_t d, bool l2) {
  return chunked::load_row<RowSum::in_order>(dst, x, d, l2, kDeltaRuleL2Eps);
}
template <typename T>
void store_row_grad(T* dx, const T* g, const T* y, T r, int64_t d, bool l2) {
  chunked::store_row_grad<RowSum::in_order>(dx, g, y, r, d, l2);
}

template <typename T>
void load_chunk(const ChunkRows<T>& r, const HeadInputs<T>& in, const Problem& g, int64_t t0, int64_t c) {
  const int64_t dk = g.dk, dv = g.dv;
  for (int64_t i = 0; i < c; ++i) {
    const int64_t t = t0 + i;
    const T bi = in.beta[t * in.beta_stride];
    r.b[i] = bi;
    r.rq[i] = load_row(r.q + i * dk, in.q + t * in.k_stride, dk, g.l2);
    r.rk[i] = load_row(r.k + i * dk, in.k + t * in.k_stride, dk, g.l2);
    for (int64_t j = 0; j < dk; ++j) r.kb[i * dk + j] = bi * r.k[i * dk + j];
    std::copy(in.v + t * in.v_stride, in.v + t * in.v_stride + dv, r.v + i * dv);
  }
}

// Zeroes the strictly upper triangle of a c×c tile: the causal mask M (j ≤ i kept).
template <typename T>
void keep_lower_with_diagonal(T* x, int64_t c, int64_t ld) {
  for (int64_t i = 0; i < c; ++i) std::fill(x + i * ld + i + 1, x + i * ld + c, T(0));
}

// The chunk-local matrices, which need no state (§2.1): G = K̂ K̂ᵀ, Tw = (I + L(diag(β) G))⁻¹
// and P = (Q̂ K̂ᵀ) ⊙ M.
template <typename T>
void chunk_local(const ChunkRows<T>& r, int64_t c, const Problem& g, T* G, T* Tw, T* P) {
  const int64_t C = g.C, dk = g.dk;
  gemm<T>(false, true, c, c, dk, T(1), r.k, dk, r.k, dk, T(0), G, C);
  wy_inverse(Tw, G, r.b, c, C);
  gemm<T>(false, true, c, c, dk, T(1), r.q, dk, r.k, dk, T(0), P, C);
  keep_lower_with_diagonal(P, c, C);
}

// A block of d_v columns [j0, j0 + w). Column j of the state S depends on column j of V
// alone (S_{n+1} = S_n + K̂ᵀ Δ, Δ = Tw diag(β) (V − K̂ S_n)), and so do column j of O, Δ
// and, backward, of ∂L/∂S, dΔ, X and dv: the recurrences over chunks can run column block
// by column block. Every product below is a column slice of the whole-width product
// (gemm_columns), so a block's numbers are those of the whole-width kernel, to the bit.
struct Columns {
  int64_t j0, w;
};

// One chunk's recurrence step on columns `cols`, given its Tw and P and the state S_n:
//   Δ = Tw diag(β) (V − K̂ S_n)                  (F5, with the product by Tw taken last)
//   O = s (Q̂ S_n + P Δ)                         (F8; skipped when o_rows is null)
//   S_{n+1} = S_n + K̂ᵀ Δ                        (F7)
// R is a [C, d_v] scratch tile; D receives Δ ([C, d_v], row stride d_v).
template <typename T>
void forward_step(const ChunkRows<T>& r, int64_t c, const Problem& g, Columns cols, const T* Tw, const T* P, T* S,
                  T* R, T* D, T* o_rows, int64_t ldo) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv, j0 = cols.j0, w = cols.w;
  const T s = T(g.scale);
  for (int64_t i = 0; i < c; ++i) std::copy(r.v + i * dv + j0, r.v + i * dv + j0 + w, R + i * dv + j0);
  gemm_columns<T>(false, false, c, dv, j0, w, dk, T(-1), r.k, dk, S, dv, T(1), R, dv);  // V − K̂ S_n
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = j0; j < j0 + w; ++j) R[i * dv + j] *= r.b[i];
  gemm_columns<T>(false, false, c, dv, j0, w, c, T(1), Tw, C, R, dv, T(0), D, dv);
  if (o_rows) {
    gemm_columns<T>(false, false, c, dv, j0, w, dk, s, r.q, dk, S, dv, T(0), o_rows, ldo);
    gemm_columns<T>(false, false, c, dv, j0, w, c, s, P, C, D, dv, T(1), o_rows, ldo);
  }
  gemm_columns<T>(true, false, dk, dv, j0, w, c, T(1), r.k, dk, D, dv, T(1), S, dv);
}

// The backward recurrence step on columns `cols` (B5, B7, B6, B12), given dO of the chunk
// and dS = ∂L/∂S_{n+1}, which becomes ∂L/∂S_n:
//   dΔ = s Pᵀ dO + K̂ dS,   X = Twᵀ dΔ (= dV_b),   dS ← dS + s Q̂ᵀ dO − K_bᵀ X,   dv = diag(β) X
// dD is a [C, d_v] scratch tile; X receives [C, d_v] (row stride d_v).
template <typename T>
void backward_step(const ChunkRows<T>& r, int64_t c, const Problem& g, Columns cols, const T* Tw, const T* P,
                   const T* dO, T* dS, T* dD, T* X, T* dv_rows, int64_t ldv) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv, j0 = cols.j0, w = cols.w;
  const T s = T(g.scale);
  gemm_columns<T>(true, false, c, dv, j0, w, c, s, P, C, dO, dv, T(0), dD, dv);
  gemm_columns<T>(false, false, c, dv, j0, w, dk, T(1), r.k, dk, dS, dv, T(1), dD, dv);
  gemm_columns<T>(true, false, c, dv, j0, w, c, T(1), Tw, C, dD, dv, T(0), X, dv);
  gemm_columns<T>(true, false, dk, dv, j0, w, c, s, r.q, dk, dO, dv, T(1), dS, dv);
  gemm_columns<T>(true, false, dk, dv, j0, w, c, T(-1), r.kb, dk, X, dv, T(1), dS, dv);
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = j0; j < j0 + w; ++j) dv_rows[i * ldv + j] = r.b[i] * X[i * dv + j];
}

// Rows t0 .. t0 + c − 1 of one pair's d_o, columns `cols`, into a [C, d_v] tile (zeros when
// d_o is null).
template <typename T>
void load_output_grad(T* dO, const T* d_o, const Problem& g, int64_t t0, int64_t c, Columns cols) {
  for (int64_t i = 0; i < c; ++i) {
    T* dst = dO + i * g.dv + cols.j0;
    if (d_o)
      std::copy(d_o + (t0 + i) * g.H * g.dv + cols.j0, d_o + (t0 + i) * g.H * g.dv + cols.j0 + cols.w, dst);
    else
      std::fill(dst, dst + cols.w, T(0));
  }
}

// ---- forward ------------------------------------------------------------------------

template <typename T>
struct ForwardScratch {
  ChunkRows<T> rows;
  T *G, *Tw, *P;  // [C, C]
  T *R, *D;       // [C, d_v]
  T* S;           // [d_k, d_v]

  static ForwardScratch carve(Arena<T>& a, const Problem& g) {
    ForwardScratch w;
    w.rows = ChunkRows<T>::carve(a, g);
    w.G = a.take(g.C * g.C), w.Tw = a.take(g.C * g.C), w.P = a.take(g.C * g.C);
    w.R = a.take(g.C * g.dv), w.D = a.take(g.C * g.dv);
    w.S = a.take(g.dk * g.dv);
    return w;
  }
};

// The state before the first chunk on columns `cols`: s0's, or zero.
template <typename T>
void initial_columns(T* S, const T* s0, const Problem& g, Columns cols) {
  for (int64_t i = 0; i < g.dk; ++i) {
    T* row = S + i * g.dv + cols.j0;
    if (s0)
      std::copy(s0 + i * g.dv + cols.j0, s0 + i * g.dv + cols.j0 + cols.w, row);
    else
      std::fill(row, row + cols.w, T(0));
  }
}

template <typename T>
void store_columns(T* dst, const T* S, const Problem& g, Columns cols) {
  for (int64_t i = 0; i < g.dk; ++i)
    std::copy(S + i * g.dv + cols.j0, S + i * g.dv + cols.j0 + cols.w, dst + i * g.dv + cols.j0);
}

// One (batch, head) pair: o = [B, T, H, d_v] at (b, 0, h); s0, s_fin its [d_k, d_v] states.
template <typename T>
void forward_head(const HeadInputs<T>& in, const T* s0, T* o, T* s_fin, const Problem& g,
                  const ForwardScratch<T>& w) {
  const Columns all{0, g.dv};
  initial_columns(w.S, s0, g, all);
  for (int64_t n = 0; n < g.chunks; ++n) {
    const int64_t t0 = n * g.C, c = g.chunk_rows(n);
    load_chunk(w.rows, in, g, t0, c);
    chunk_local(w.rows, c, g, w.G, w.Tw, w.P);
    forward_step(w.rows, c, g, all, w.Tw, w.P, w.S, w.R, w.D, o + t0 * g.H * g.dv, g.H * g.dv);
  }
  store_columns(s_fin, w.S, g, all);
}

// ---- backward -----------------------------------------------------------------------

// Where one pair's gradients go: rows of the [B, T, H, d] outputs at (b, 0, h), its β
// gradients at (b, 0, h) of [B, T, H], and its [d_k, d_v] initial-state gradient.
template <typename T>
struct HeadGrads {
  T *dq, *dk, *dv, *dbeta, *ds0;
};

// What the chunk-local gradients of chunk n read: its saved matrices, dO, and
// dS_next = ∂L/∂S_{n+1}.
template <typename T>
struct ChunkSaved {
  const T *S, *G, *P, *D, *X, *dS_next, *dO;
};

template <typename T>
struct GradTiles {
  T *dP, *dA;        // [C, C]
  T *dQ, *dK, *dKb;  // [C, d_k]

  static GradTiles carve(Arena<T>& a, const Problem& g) {
    GradTiles t;
    t.dP = a.take(g.C * g.C), t.dA = a.take(g.C * g.C);
    t.dQ = a.take(g.C * g.dk), t.dK = a.take(g.C * g.dk), t.dKb = a.take(g.C * g.dk);
    return t;
  }
};

// The gradients that sum over d_v, of one chunk (B1–B4, B8–B11, B13), stored into dq, dk
// (through the ℓ2 backward) and dβ:
//   dP = s (dO Δᵀ) ⊙ M,  dQ̂ = s dO S_nᵀ + dP K̂,  dK_b = −X S_nᵀ,  dA = L(−X Δᵀ),
//   dβ = rowsum(dK_b ⊙ K̂) + rowsum(X ⊙ V) + rowsum(dA ⊙ G),  E = diag(β) dA + (diag(β) dA)ᵀ,
//   dK̂ = dPᵀ Q̂ + Δ dS_{n+1}ᵀ + E K̂ + diag(β) dK_b
template <typename T>
void chunk_gradients(const ChunkRows<T>& r, int64_t t0, int64_t c, const Problem& g, const ChunkSaved<T>& in,
                     const GradTiles<T>& w, const HeadGrads<T>& out, int64_t k_stride) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv;
  const T s = T(g.scale);
  gemm<T>(false, true, c, c, dv, s, in.dO, dv, in.D, dv, T(0), w.dP, C);
  keep_lower_with_diagonal(w.dP, c, C);
  gemm<T>(false, true, c, dk, dv, s, in.dO, dv, in.S, dv, T(0), w.dQ, dk);
  gemm<T>(false, false, c, dk, c, T(1), w.dP, C, r.k, dk, T(1), w.dQ, dk);
  gemm<T>(false, true, c, dk, dv, T(-1), in.X, dv, in.S, dv, T(0), w.dKb, dk);
  gemm<T>(false, true, c, c, dv, T(-1), in.X, dv, in.D, dv, T(0), w.dA, C);
  for (int64_t i = 0; i < c; ++i) {
    T db = 0;
    for (int64_t j = 0; j < dk; ++j) db += w.dKb[i * dk + j] * r.k[i * dk + j];
    for (int64_t j = 0; j < dv; ++j) db += in.X[i * dv + j] * r.v[i * dv + j];
    for (int64_t j = 0; j < i; ++j) db += w.dA[i * C + j] * in.G[i * C + j];
    out.dbeta[(t0 + i) * g.H] = db;
  }
  T* E = w.dA;  // built in place (its upper part is unused)
  chunked::symmetrise_scaled(E, r.b, c, C);
  gemm<T>(true, false, c, dk, c, T(1), w.dP, C, r.q, dk, T(0), w.dK, dk);
  gemm<T>(false, true, c, dk, dv, T(1), in.D, dv, in.dS_next, dv, T(1), w.dK, dk);
  gemm<T>(false, false, c, dk, c, T(1), E, C, r.k, dk, T(1), w.dK, dk);
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < dk; ++j) w.dK[i * dk + j] += r.b[i] * w.dKb[i * dk + j];
  for (int64_t i = 0; i < c; ++i) {
    const int64_t t = t0 + i;
    store_row_grad(out.dq + t * k_stride, w.dQ + i * dk, r.q + i * dk, r.rq[i], dk, g.l2);
    store_row_grad(out.dk + t * k_stride, w.dK + i * dk, r.k + i * dk, r.rk[i], dk, g.l2);
  }
}

template <typename T>
struct BackwardScratch {
  ChunkRows<T> rows;
  GradTiles<T> tiles;
  // Saved by the recompute pass, per chunk n: S_n, G_n, Tw_n, P_n, Δ_n.
  T *S_all, *G_all, *Tw_all, *P_all, *D_all;  // [N, d_k, d_v], [N, C, C] ×3, [N·C, d_v]
  T *S, *dS, *dS_next;                        // [d_k, d_v]
  T *R, *dO, *dD, *X;                         // [C, d_v]

  static BackwardScratch carve(Arena<T>& a, const Problem& g) {
    BackwardScratch w;
    const int64_t C = g.C, N = g.chunks, dk = g.dk, dv = g.dv;
    w.rows = ChunkRows<T>::carve(a, g);
    w.tiles = GradTiles<T>::carve(a, g);
    w.S_all = a.take(N * dk * dv), w.G_all = a.take(N * C * C), w.Tw_all = a.take(N * C * C);
    w.P_all = a.take(N * C * C), w.D_all = a.take(N * C * dv);
    w.S = a.take(dk * dv), w.dS = a.take(dk * dv), w.dS_next = a.take(dk * dv);
    w.R = a.take(C * dv), w.dO = a.take(C * dv), w.dD = a.take(C * dv), w.X = a.take(C * dv);
    return w;
  }
};

// One (batch, head) pair. d_o (rows at (b, 0, h)) and d_fin may be null: zero gradient.
template <typename T>
void backward_head(const HeadInputs<T>& in, const T* s0, const T* d_o, const T* d_fin, const HeadGrads<T>& out,
                   const Problem& g, const BackwardScratch<T>& w) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv;
  const Columns all{0, dv};
  const ChunkRows<T>& r = w.rows;

  // Pass 1, forward over chunks: recompute and keep S_n, G_n, Tw_n, P_n, Δ_n (§2.3 "recompute").
  initial_columns(w.S, s0, g, all);
  for (int64_t n = 0; n < g.chunks; ++n) {
    const int64_t t0 = n * C, c = g.chunk_rows(n);
    load_chunk(r, in, g, t0, c);
    store_columns(w.S_all + n * dk * dv, w.S, g, all);
    chunk_local(r, c, g, w.G_all + n * C * C, w.Tw_all + n * C * C, w.P_all + n * C * C);
    forward_step(r, c, g, all, w.Tw_all + n * C * C, w.P_all + n * C * C, w.S, w.R, w.D_all + t0 * dv,
                 static_cast<T*>(nullptr), 0);
  }

  // Pass 2, backward over chunks, carrying dS = ∂L/∂S_{n+1} (B1–B13, in the forms of NOTES.md).
  initial_columns(w.dS, d_fin, g, all);
  for (int64_t n = g.chunks - 1; n >= 0; --n) {
    const int64_t t0 = n * C, c = g.chunk_rows(n);
    load_chunk(r, in, g, t0, c);
    load_output_grad(w.dO, d_o, g, t0, c, all);
    store_columns(w.dS_next, w.dS, g, all);
    backward_step(r, c, g, all, w.Tw_all + n * C * C, w.P_all + n * C * C, w.dO, w.dS, w.dD, w.X,
                  out.dv + t0 * in.v_stride, in.v_stride);
    const ChunkSaved<T> saved{w.S_all + n * dk * dv, w.G_all + n * C * C, w.P_all + n * C * C, w.D_all + t0 * dv,
                              w.X, w.dS_next, w.dO};
    chunk_gradients(r, t0, c, g, saved, w.tiles, out, in.k_stride);
  }
  store_columns(out.ds0, w.dS, g, all);
}

// Runs body(head, scratch) for every (batch, head) pair, in parallel when the work is
// large, with each thread carving its scratch from its own slice of one workspace tensor
// (the caching allocator then reuses that memory from call to call).
template <typename T, typename Scratch, typename Body>
void for_each_head(const Problem& g, DType dtype, Body&& body) {
  const int64_t heads = g.heads();
  if (heads == 0) return;
  Arena<T> measure;
  Scratch::carve(measure, g);
  const int64_t per_thread = measure.used();
  const bool parallel = should_parallelize(heads * g.T * g.C * (g.dk + g.dv)) && heads > 1;
  const int threads = parallel ? int(std::min<int64_t>(omp_get_max_threads(), heads)) : 1;
  Tensor workspace = empty({threads, per_thread}, dtype);
  T* base = workspace.data<T>();
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (parallel)
  for (int64_t head = 0; head < heads; ++head) {
    Arena<T> arena(base + omp_get_thread_num() * per_thread);
    body(head, Scratch::carve(arena, g));
  }
}

// ---- few pairs: chunks and column blocks as the work items --------------------------
//
// With fewer (batch, head) pairs than threads, one pair per thread leaves threads idle. So
// the phases of the per-pair kernels run as separate parallel loops: what needs no state
// (chunk_local; the backward's chunk_gradients) per (pair, chunk), the recurrences over
// chunks (forward_step, backward_step) per (pair, column block). Each product is the
// per-pair kernel's product or a column slice of it, so the bits are the same for any
// thread count; the price is memory for every chunk's matrices, O(T (C + d)) per pair.

bool few_pairs(const Problem& g) {
  return !in_parallel_region() && g.heads() < omp_get_max_threads() &&
         should_parallelize(g.heads() * g.T * g.C * (g.dk + g.dv));
}

// Column blocks of d_v for the recurrences: enough for every thread, at least 8 columns wide.
struct ColumnBlocks {
  int64_t count, width;
  Columns at(int64_t i, int64_t dv) const { return {i * width, std::min(width, dv - i * width)}; }
};

ColumnBlocks column_blocks(const Problem& g) {
  const int64_t wanted = (omp_get_max_threads() + g.heads() - 1) / g.heads();
  const int64_t count = std::clamp<int64_t>(wanted, 1, std::max<int64_t>(1, g.dv / 8));
  const int64_t width = (g.dv + count - 1) / count;
  return {(g.dv + width - 1) / width, width};
}

// Per-thread scratch of the split loops (each loop uses what it needs).
template <typename T>
struct SplitScratch {
  ChunkRows<T> rows;
  GradTiles<T> tiles;
  T *G;                  // [C, C] (the forward's unused G)
  T *R, *D, *dO, *dD;    // [C, d_v]
  T *S;                  // [d_k, d_v] running state or ∂L/∂S

  static SplitScratch carve(Arena<T>& a, const Problem& g) {
    SplitScratch w;
    w.rows = ChunkRows<T>::carve(a, g);
    w.tiles = GradTiles<T>::carve(a, g);
    w.G = a.take(g.C * g.C);
    w.R = a.take(g.C * g.dv), w.D = a.take(g.C * g.dv), w.dO = a.take(g.C * g.dv), w.dD = a.take(g.C * g.dv);
    w.S = a.take(g.dk * g.dv);
    return w;
  }
};

// Every pair's saved matrices for the split loops.
template <typename T>
struct PairStore {
  T *G, *Tw, *P;    // [N, C, C] per pair
  T *S, *dS_next;   // [N, d_k, d_v] per pair
  T *D, *X;         // [N·C, d_v] per pair

  static PairStore carve(Arena<T>& a, const Problem& g, bool backward) {
    const int64_t pairs = g.heads(), N = g.chunks, C = g.C, dk = g.dk, dv = g.dv;
    PairStore p{};
    p.G = backward ? a.take(pairs * N * C * C) : nullptr;
    p.Tw = a.take(pairs * N * C * C), p.P = a.take(pairs * N * C * C);
    if (backward) {
      p.S = a.take(pairs * N * dk * dv), p.dS_next = a.take(pairs * N * dk * dv);
      p.D = a.take(pairs * N * C * dv), p.X = a.take(pairs * N * C * dv);
    }
    return p;
  }
  int64_t cc(const Problem& g, int64_t pair, int64_t n) const { return (pair * g.chunks + n) * g.C * g.C; }
  int64_t state(const Problem& g, int64_t pair, int64_t n) const { return (pair * g.chunks + n) * g.dk * g.dv; }
  int64_t rows(const Problem& g, int64_t pair, int64_t t0) const { return (pair * g.chunks * g.C + t0) * g.dv; }
};

// Runs body(item, scratch) for items 0 .. count − 1 on every thread, each with its scratch.
template <typename T, typename Body>
void split_loop(int64_t count, T* scratch_base, int64_t per_thread, const Problem& g, Body&& body) {
#pragma omp parallel for schedule(dynamic)
  for (int64_t item = 0; item < count; ++item) {
    Arena<T> arena(scratch_base + omp_get_thread_num() * per_thread);
    body(item, SplitScratch<T>::carve(arena, g));
  }
}

// The workspace of the split loops: the store, then one scratch slice per thread.
template <typename T>
struct SplitWorkspace {
  Tensor memory;
  PairStore<T> store;
  T* scratch;
  int64_t per_thread;

  SplitWorkspace(const Problem& g, DType dtype, bool backward) {
    Arena<T> measure_store, measure_scratch;
    PairStore<T>::carve(measure_store, g, backward);
    SplitScratch<T>::carve(measure_scratch, g);
    per_thread = measure_scratch.used();
    memory = empty({measure_store.used() + omp_get_max_threads() * per_thread}, dtype);
    Arena<T> arena(memory.data<T>());
    store = PairStore<T>::carve(arena, g, backward);
    scratch = memory.data<T>() + measure_store.used();
  }
};

template <typename T, typename InputsOf>
void forward_few_pairs(const Problem& g, DType dtype, InputsOf inputs_of, const T* s0, T* o, T* s_fin) {
  SplitWorkspace<T> ws(g, dtype, /*backward=*/false);
  const PairStore<T>& st = ws.store;
  const int64_t pairs = g.heads(), N = g.chunks, state = g.dk * g.dv;
  split_loop<T>(pairs * N, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / N, n = item % N, c = g.chunk_rows(n);
    load_chunk(w.rows, inputs_of(pair), g, n * g.C, c);
    chunk_local(w.rows, c, g, w.G, st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n));
  });
  const ColumnBlocks blocks = column_blocks(g);
  split_loop<T>(pairs * blocks.count, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / blocks.count, b = pair / g.H, h = pair % g.H;
    const Columns cols = blocks.at(item % blocks.count, g.dv);
    T* o_pair = chunked::advance(o, (b * g.T * g.H + h) * g.dv);
    initial_columns(w.S, s0 ? s0 + pair * state : nullptr, g, cols);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t t0 = n * g.C, c = g.chunk_rows(n);
      load_chunk(w.rows, inputs_of(pair), g, t0, c);
      forward_step(w.rows, c, g, cols, st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n), w.S, w.R, w.D,
                   o_pair + t0 * g.H * g.dv, g.H * g.dv);
    }
    store_columns(s_fin + pair * state, w.S, g, cols);
  });
}

template <typename T, typename InputsOf, typename GradsOf>
void backward_few_pairs(const Problem& g, DType dtype, InputsOf inputs_of, GradsOf grads_of, const T* s0,
                        const T* d_o, const T* d_fin) {
  SplitWorkspace<T> ws(g, dtype, /*backward=*/true);
  const PairStore<T>& st = ws.store;
  const int64_t pairs = g.heads(), N = g.chunks, state = g.dk * g.dv;
  const auto d_o_of = [&](int64_t pair) -> const T* {
    return d_o ? d_o + ((pair / g.H) * g.T * g.H + pair % g.H) * g.dv : nullptr;
  };
  // Chunk-local matrices.
  split_loop<T>(pairs * N, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / N, n = item % N, c = g.chunk_rows(n);
    load_chunk(w.rows, inputs_of(pair), g, n * g.C, c);
    chunk_local(w.rows, c, g, st.G + st.cc(g, pair, n), st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n));
  });
  // The recurrences, by column block: states and Δ forward, then ∂L/∂S, X and dv backward.
  const ColumnBlocks blocks = column_blocks(g);
  split_loop<T>(pairs * blocks.count, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / blocks.count;
    const Columns cols = blocks.at(item % blocks.count, g.dv);
    const HeadInputs<T> in = inputs_of(pair);
    initial_columns(w.S, s0 ? s0 + pair * state : nullptr, g, cols);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t t0 = n * g.C, c = g.chunk_rows(n);
      load_chunk(w.rows, in, g, t0, c);
      store_columns(st.S + st.state(g, pair, n), w.S, g, cols);
      forward_step(w.rows, c, g, cols, st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n), w.S, w.R,
                   st.D + st.rows(g, pair, t0), static_cast<T*>(nullptr), 0);
    }
    const HeadGrads<T> out = grads_of(pair);
    initial_columns(w.S, d_fin ? d_fin + pair * state : nullptr, g, cols);
    for (int64_t n = N - 1; n >= 0; --n) {
      const int64_t t0 = n * g.C, c = g.chunk_rows(n);
      load_chunk(w.rows, in, g, t0, c);
      load_output_grad(w.dO, d_o_of(pair), g, t0, c, cols);
      store_columns(st.dS_next + st.state(g, pair, n), w.S, g, cols);
      backward_step(w.rows, c, g, cols, st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n), w.dO, w.S, w.dD,
                    st.X + st.rows(g, pair, t0), out.dv + t0 * in.v_stride, in.v_stride);
    }
    store_columns(out.ds0, w.S, g, cols);
  });
  // The gradients that sum over d_v, per chunk.
  split_loop<T>(pairs * N, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / N, n = item % N, t0 = n * g.C, c = g.chunk_rows(n);
    const HeadInputs<T> in = inputs_of(pair);
    load_chunk(w.rows, in, g, t0, c);
    load_output_grad(w.dO, d_o_of(pair), g, t0, c, Columns{0, g.dv});
    const ChunkSaved<T> saved{st.S + st.state(g, pair, n), st.G + st.cc(g, pair, n), st.P + st.cc(g, pair, n),
                              st.D + st.rows(g, pair, t0), st.X + st.rows(g, pair, t0),
                              st.dS_next + st.state(g, pair, n), w.dO};
    chunk_gradients(w.rows, t0, c, g, saved, w.tiles, grads_of(pair), in.k_stride);
  });
}

}  // namespace

void delta_rule_forward_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                            const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk, const Tensor& o,
                            const Tensor& final_state) {
  const Problem g = problem_of(q, v, chunk_size, l2norm_qk);
  dispatch_float(q.dtype(), "delta_rule", [&]<typename T>() {
    const T *pq = q.data<T>(), *pk = k.data<T>(), *pv = v.data<T>(), *pb = beta.data<T>();
    const T* ps0 = initial_state.defined() ? initial_state.data<T>() : nullptr;
    T *po = o.data<T>(), *pfin = final_state.data<T>();
    const int64_t state = g.dk * g.dv;
    if (few_pairs(g)) {
      const auto inputs_of = [&](int64_t pair) { return head_inputs(g, pair / g.H, pair % g.H, pq, pk, pv, pb); };
      forward_few_pairs<T>(g, q.dtype(), inputs_of, ps0, po, pfin);
      return;
    }
    for_each_head<T, ForwardScratch<T>>(g, q.dtype(), [&](int64_t head, const ForwardScratch<T>& w) {
      const int64_t b = head / g.H, h = head % g.H;
      const HeadInputs<T> in = head_inputs(g, b, h, pq, pk, pv, pb);
      forward_head(in, ps0 ? ps0 + head * state : nullptr, chunked::advance(po, (b * g.T * g.H + h) * g.dv),
                   pfin + head * state, g, w);
    });
  });
}

DeltaRuleGrads delta_rule_backward_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                       const Tensor& initial_state, const Tensor& d_o, const Tensor& d_final,
                                       int64_t chunk_size, bool l2norm_qk) {
  const Problem g = problem_of(q, v, chunk_size, l2norm_qk);
  DeltaRuleGrads grads;
  grads.dq = empty(q.shape(), q.dtype(), q.device());
  grads.dk = empty(k.shape(), k.dtype(), k.device());
  grads.dv = empty(v.shape(), v.dtype(), v.device());
  grads.dbeta = empty(beta.shape(), beta.dtype(), beta.device());
  grads.dinitial_state = empty({g.B, g.H, g.dk, g.dv}, q.dtype(), q.device());
  dispatch_float(q.dtype(), "delta_rule", [&]<typename T>() {
    const T *pq = q.data<T>(), *pk = k.data<T>(), *pv = v.data<T>(), *pb = beta.data<T>();
    const T* ps0 = initial_state.defined() ? initial_state.data<T>() : nullptr;
    const T* pdo = d_o.defined() ? d_o.data<T>() : nullptr;
    const T* pdfin = d_final.defined() ? d_final.data<T>() : nullptr;
    T *dq = grads.dq.data<T>(), *dk = grads.dk.data<T>(), *dv = grads.dv.data<T>();
    T *db = grads.dbeta.data<T>(), *ds0 = grads.dinitial_state.data<T>();
    const int64_t state = g.dk * g.dv;
    const auto grads_of = [&](int64_t head) {
      const int64_t b = head / g.H, h = head % g.H;
      const int64_t row_k = (b * g.T * g.H + h) * g.dk, row_v = (b * g.T * g.H + h) * g.dv;
      using chunked::advance;
      return HeadGrads<T>{advance(dq, row_k), advance(dk, row_k), advance(dv, row_v), advance(db, b * g.T * g.H + h),
                          ds0 + head * state};
    };
    const auto inputs_of = [&](int64_t head) { return head_inputs(g, head / g.H, head % g.H, pq, pk, pv, pb); };
    if (few_pairs(g)) {
      backward_few_pairs<T>(g, q.dtype(), inputs_of, grads_of, ps0, pdo, pdfin);
      return;
    }
    for_each_head<T, BackwardScratch<T>>(g, q.dtype(), [&](int64_t head, const BackwardScratch<T>& w) {
      const int64_t row_v = ((head / g.H) * g.T * g.H + head % g.H) * g.dv;
      backward_head(inputs_of(head), ps0 ? ps0 + head * state : nullptr, pdo ? pdo + row_v : nullptr,
                    pdfin ? pdfin + head * state : nullptr, grads_of(head), g, w);
    });
  });
  return grads;
}

}  // namespace hqlt::detail
