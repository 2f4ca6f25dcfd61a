#pragma once
// The chunkwise delta rule on the CPU, one chunk at a time: the pieces of docs/math/kernels.md
// §2.2 (forward) and §2.3 (backward) that the kernels of delta_rule_cpu.cpp put together,
// whichever way they share the work between threads. Every product is a small GEMM on
// [C, d] or [C, C] tiles (hqlt::gemm); why some steps differ in form from the tables of
// §2.2–2.3 is in NOTES.md.
//
// Notation per chunk (c rows, c = C except maybe the last): Q̂, K̂ [c, d_k] (ℓ2-normalised
// when asked), V [c, d_v], β [c], K_b = diag(β) K̂, G = K̂ K̂ᵀ, Tw = (I + L(diag(β) G))⁻¹,
// Δ = Tw (V_b − K_b S_n) [c, d_v], P = (Q̂ K̂ᵀ) ⊙ M, s = d_k^{-1/2}.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/tensor.h"
#include "ops/chunked/chunked_cpu.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/kernel_math.h"
#include "ops/matmul/gemm.h"

namespace hqlt::detail::delta_rule_cpu {

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

inline Problem problem_of(const Tensor& q, const Tensor& v, int64_t chunk_size, bool l2) {
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

}  // namespace hqlt::detail::delta_rule_cpu
