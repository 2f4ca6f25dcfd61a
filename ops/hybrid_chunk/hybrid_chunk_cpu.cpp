// The CPU kernels of the Delayed-Chunk hybrid op: forward (docs/math/kernels.md §4.1) and
// hand-written backward (§4.2). The derivation and the measured speed are in NOTES.md.
//
// Work items, run by OpenMP threads with a dynamic schedule (never nested):
//   * one FW item per (batch, head): the chunkwise delta rule over FW blocks of C_fw tokens
//     (docs/math/kernels.md §2.2), reading O_fw = s Q̂_n S_n before each block's write. Sequential
//     over blocks, so this is the coarse, heavy part.
//   * one KV item per (batch, head, attention chunk): one C_kv×C_kv score tile, softmax,
//     product with the chunk's values. Chunks are independent.
// Every product is a small GEMM (hqlt::gemm, single-threaded inside the parallel region) that
// reads and writes the token-major [B, T, H, d] tensors in place through their row stride
// H·d. The forward hands out the FW items first (they are longer), then the KV items. The
// backward runs the KV items first, which write dv, then the FW items, which add their
// share to dv: two loops in one parallel region, with the barrier between them.
//
// Per FW block (c rows, c = C_fw except maybe the last): Q̂, K̂ [c, d_k], V [c, d_v], β [c],
// G = K̂ K̂ᵀ, Tw = (I + L(diag(β) G))⁻¹, Δ = Tw diag(β) (V − K̂ S_n) [c, d_v].
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "engine/parallel.h"
#include "ops/chunked/chunked_cpu.h"
#include "ops/kernel_math.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/matmul/gemm.h"

namespace hqlt::hybrid_chunk_detail {
namespace {

using kernels::exp_nonpositive;
using kernels::Arena;

using gemm::gemm;

using detail::chunked::RowSum;
using detail::chunked::advance;
using detail::chunked::wy_inverse;

// One (batch, head) pair's rows in the token-major tensors: row t starts at ptr + t·ld.
template <typename T>
struct HeadRows {
  const T *q_fw, *k_fw, *q_kv, *k_kv, *v, *beta;
  int64_t ld_k, ld_v, ld_beta;  // H·d_k, H·d_v, H
  int64_t row0_k, row0_v;       // offsets of (b, 0, h) in [B, T, H, d_k] and [B, T, H, d_v]
};

template <typename T>
HeadRows<T> head_rows(const Problem& p, const Inputs& in, int64_t bh) {
  const int64_t b = bh / p.heads, h = bh % p.heads, row = b * p.time * p.heads + h;
  HeadRows<T> r;
  r.row0_k = row * p.dk, r.row0_v = row * p.dv;
  r.q_fw = advance(in.q_fw.data<T>(), r.row0_k), r.k_fw = advance(in.k_fw.data<T>(), r.row0_k);
  r.q_kv = advance(in.q_kv.data<T>(), r.row0_k), r.k_kv = advance(in.k_kv.data<T>(), r.row0_k);
  r.v = advance(in.v.data<T>(), r.row0_v), r.beta = advance(in.beta.data<T>(), row);
  r.ld_k = p.heads * p.dk, r.ld_v = p.heads * p.dv, r.ld_beta = p.heads;
  return r;
}

// Asks the caches for rows [t0, t0 + c) of one head's [B, T, H, d] rows (row stride ld):
// a head's rows sit H·d apart, a stride the hardware prefetcher does not follow across
// pages, so each block fetches the next block's rows while it computes.
template <typename T>
void prefetch_rows(const T* rows, int64_t ld, int64_t t0, int64_t c, int64_t d) {
  constexpr int64_t line = 64 / int64_t(sizeof(T));
  for (int64_t i = t0; i < t0 + c; ++i)
    for (int64_t j = 0; j < d; j += line) __builtin_prefetch(rows + i * ld + j);
}

// ---- FW part: the delta rule over blocks, read before write ---------------------------

// One FW block's inputs in contiguous tiles. The queries and keys are one [2c, d_k] matrix,
// [Q̂; K̂], so that the products both have with S_n (Q̂ S_n, K̂ S_n, and the dS update of the
// backward) are one GEMM each.
template <typename T>
struct BlockRows {
  T* qk;           // [2c, d_k]: Q̂ rows, then K̂ rows
  T* k;            // = qk + c·d_k
  T* v;            // [c, d_v]
  T *b, *rq, *rk;  // [c]: β, and the ℓ2 factors 1/sqrt(Σ x² + ε) of the raw rows (1 without ℓ2)
};

// Room for `blocks` FW blocks of rows: one block in the forward; the whole sequence in the
// backward, whose second sweep reuses what the first loaded.
template <typename T>
struct RowStore {
  T *qk, *v, *b, *rq, *rk;

  static RowStore carve(Arena<T>& a, const Problem& p, int64_t blocks) {
    const int64_t rows = blocks * p.fw_block;
    RowStore s;
    s.qk = a.take(2 * rows * p.dk), s.v = a.take(rows * p.dv);
    s.b = a.take(rows), s.rq = a.take(rows), s.rk = a.take(rows);
    return s;
  }
  // Block `slot` of the store, holding c rows.
  BlockRows<T> block(const Problem& p, int64_t slot, int64_t c) const {
    const int64_t t0 = slot * p.fw_block;
    T* q = qk + 2 * t0 * p.dk;
    return {q, q + c * p.dk, v + t0 * p.dv, b + t0, rq + t0, rk + t0};
  }
};

// The rows in and out through the ℓ2 normalisation (ops/chunked/chunked_cpu.h), with this
// op's ε and its `omp simd` sums.
template <typename T>
T load_row(T* dst, const T* x, int64_t d, bool l2) {
  return detail::chunked::load_row<RowSum::simd>(dst, x, d, l2, kL2Eps);
}
template <typename T>
void store_row_grad(T* dx, const T* g, const T* y, T r, int64_t d, bool l2) {
  detail::chunked::store_row_grad<RowSum::simd>(dx, g, y, r, d, l2);
}

// Loads the c rows of the block at t0, then prefetches the next block's.
template <typename T>
void load_block(const BlockRows<T>& r, const HeadRows<T>& h, const Problem& p, int64_t t0, int64_t c) {
  for (int64_t i = 0; i < c; ++i) {
    const int64_t t = t0 + i;
    r.b[i] = h.beta[t * h.ld_beta];
    r.rq[i] = load_row(r.qk + i * p.dk, h.q_fw + t * h.ld_k, p.dk, p.l2);
    r.rk[i] = load_row(r.k + i * p.dk, h.k_fw + t * h.ld_k, p.dk, p.l2);
    std::copy(h.v + t * h.ld_v, h.v + t * h.ld_v + p.dv, r.v + i * p.dv);
  }
  const int64_t next = std::min(p.fw_block, p.time - t0 - c);
  prefetch_rows(h.q_fw, h.ld_k, t0 + c, next, p.dk);
  prefetch_rows(h.k_fw, h.ld_k, t0 + c, next, p.dk);
  prefetch_rows(h.v, h.ld_v, t0 + c, next, p.dv);
}

// The write of one block (docs/math/kernels.md §2.1), given R = K̂ S_n [c, d_v] (overwritten):
//   G = K̂ K̂ᵀ,  Tw = (I + L(diag(β) G))⁻¹,  Δ = Tw diag(β) (V − K̂ S_n),  S_{n+1} = S_n + K̂ᵀ Δ
// (Δ = U − W S_n of §2.1 with the product by Tw taken last: no [c, d] products W, U).
template <typename T>
void finish_write(const BlockRows<T>& r, int64_t c, const Problem& p, T* S, T* R, T* G, T* Tw, T* D) {
  const int64_t C = p.fw_block, dk = p.dk, dv = p.dv;
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < dv; ++j) R[i * dv + j] = r.b[i] * (r.v[i * dv + j] - R[i * dv + j]);
  gemm<T>(false, true, c, c, dk, T(1), r.k, dk, r.k, dk, T(0), G, C);
  wy_inverse(Tw, G, r.b, c, C);
  gemm<T>(false, false, c, dv, c, T(1), Tw, C, R, dv, T(0), D, dv);
  gemm<T>(true, false, dk, dv, c, T(1), r.k, dk, D, dv, T(1), S, dv);
}

template <typename T>
struct FwForwardScratch {
  RowStore<T> rows;
  T *G, *Tw;  // [C_fw, C_fw]
  T* Y;       // [2 C_fw, d_v]: [Q̂; K̂] S_n
  T* D;       // [C_fw, d_v]
  T* S;       // [d_k, d_v]

  static FwForwardScratch carve(Arena<T>& a, const Problem& p) {
    const int64_t C = p.fw_block;
    FwForwardScratch w;
    w.rows = RowStore<T>::carve(a, p, 1);
    w.G = a.take(C * C), w.Tw = a.take(C * C), w.Y = a.take(2 * C * p.dv), w.D = a.take(C * p.dv);
    w.S = a.take(p.dk * p.dv);
    return w;
  }
};

// One (batch, head) pair: o_fw rows at (b, 0, h); s0 (null: zeros) and s_fin its states.
template <typename T>
void fw_forward_head(const Problem& p, const HeadRows<T>& h, const T* s0, T* o_fw, T* s_fin,
                     const FwForwardScratch<T>& w) {
  const int64_t C = p.fw_block, dk = p.dk, dv = p.dv;
  const T s = T(p.scale);
  if (s0)
    std::copy(s0, s0 + dk * dv, w.S);
  else
    std::fill(w.S, w.S + dk * dv, T(0));
  for (int64_t t0 = 0; t0 < p.time; t0 += C) {
    const int64_t c = std::min(C, p.time - t0);
    const BlockRows<T> r = w.rows.block(p, 0, c);
    load_block(r, h, p, t0, c);
    // [Q̂; K̂] S_n: the read O_fw = s Q̂ S_n (before the write) and K̂ S_n for the write.
    gemm<T>(false, false, 2 * c, dv, dk, T(1), r.qk, dk, w.S, dv, T(0), w.Y, dv);
    for (int64_t i = 0; i < c; ++i) {
      T* o = o_fw + (t0 + i) * h.ld_v;
      for (int64_t j = 0; j < dv; ++j) o[j] = s * w.Y[i * dv + j];
    }
    finish_write(r, c, p, w.S, w.Y + c * dv, w.G, w.Tw, w.D);
  }
  std::copy(w.S, w.S + dk * dv, s_fin);
}

template <typename T>
struct FwBackwardScratch {
  RowStore<T> rows;  // every block's rows, loaded once by the first sweep
  // Kept by the first sweep, per block n: S_n, G_n, Tw_n, Δ_n.
  T *S_all, *G_all, *Tw_all, *D_all;  // [N, d_k, d_v], [N, C, C], [N, C, C], [N·C, d_v]
  T *S, *dS;                          // [d_k, d_v]: running state, running ∂L/∂S
  T* R;                               // [C, d_v]
  T* Z;                               // [2C, d_v]: [s·dO; X], later [s·dO; −diag(β) X]
  T* dD;                              // [C, d_v]
  T* dA;                              // [C, C]
  T* dQK;                             // [2C, d_k]: [dQ̂; X S_nᵀ]
  T* dK;                              // [C, d_k]

  static FwBackwardScratch carve(Arena<T>& a, const Problem& p) {
    const int64_t C = p.fw_block, N = (p.time + C - 1) / C, dk = p.dk, dv = p.dv;
    FwBackwardScratch w;
    w.rows = RowStore<T>::carve(a, p, N);
    w.S_all = a.take(N * dk * dv), w.G_all = a.take(N * C * C), w.Tw_all = a.take(N * C * C);
    w.D_all = a.take(N * C * dv);
    w.S = a.take(dk * dv), w.dS = a.take(dk * dv);
    w.R = a.take(C * dv), w.Z = a.take(2 * C * dv), w.dD = a.take(C * dv), w.dA = a.take(C * C);
    w.dQK = a.take(2 * C * dk), w.dK = a.take(C * dk);
    return w;
  }
};

// Where one pair's FW gradients go: rows at (b, 0, h) of dq_fw, dk_fw, dv (added to), dβ,
// and its [d_k, d_v] initial-state gradient.
template <typename T>
struct FwGrads {
  T *dq, *dk, *dv, *dbeta, *ds0;
};

// The FW backward of one (batch, head) pair (docs/math/kernels.md §4.2, i.e. §2.3 with P = 0).
// d_o (rows at (b, 0, h)) and d_fin may be null: zero gradient.
template <typename T>
void fw_backward_head(const Problem& p, const HeadRows<T>& h, const T* s0, const T* d_o, const T* d_fin,
                      const FwGrads<T>& out, const FwBackwardScratch<T>& w) {
  const int64_t C = p.fw_block, dk = p.dk, dv = p.dv, N = (p.time + C - 1) / C;
  const T s = T(p.scale);

  // Sweep 1, forward over blocks: load the rows, recompute and keep S_n, G_n, Tw_n, Δ_n.
  if (s0)
    std::copy(s0, s0 + dk * dv, w.S);
  else
    std::fill(w.S, w.S + dk * dv, T(0));
  for (int64_t n = 0; n < N; ++n) {
    const int64_t t0 = n * C, c = std::min(C, p.time - t0);
    const BlockRows<T> r = w.rows.block(p, n, c);
    load_block(r, h, p, t0, c);
    std::copy(w.S, w.S + dk * dv, w.S_all + n * dk * dv);
    gemm<T>(false, false, c, dv, dk, T(1), r.k, dk, w.S, dv, T(0), w.R, dv);  // K̂ S_n
    finish_write(r, c, p, w.S, w.R, w.G_all + n * C * C, w.Tw_all + n * C * C, w.D_all + t0 * dv);
  }

  // Sweep 2, backward over blocks, carrying dS = ∂L/∂S_{n+1}.
  if (d_fin)
    std::copy(d_fin, d_fin + dk * dv, w.dS);
  else
    std::fill(w.dS, w.dS + dk * dv, T(0));
  for (int64_t n = N - 1; n >= 0; --n) {
    const int64_t t0 = n * C, c = std::min(C, p.time - t0);
    const BlockRows<T> r = w.rows.block(p, n, c);
    const T *S = w.S_all + n * dk * dv, *G = w.G_all + n * C * C, *Tw = w.Tw_all + n * C * C;
    const T* D = w.D_all + t0 * dv;
    T* X = w.Z + c * dv;
    T* dKb = w.dQK + c * dk;  // X S_nᵀ, the gradient of K_b = diag(β) K̂ with its sign flipped
    if (d_o && n > 0) prefetch_rows(d_o, h.ld_v, t0 - C, C, dv);  // the next block's incoming gradient

    // Z = [s·dO; X] with dΔ = K̂ dS_{n+1} and X = Twᵀ dΔ, the gradient of diag(β)(V − K̂ S_n).
    for (int64_t i = 0; i < c; ++i) {
      T* z = w.Z + i * dv;
      if (d_o) {
        const T* g = d_o + (t0 + i) * h.ld_v;
        for (int64_t j = 0; j < dv; ++j) z[j] = s * g[j];
      } else {
        std::fill(z, z + dv, T(0));
      }
    }
    gemm<T>(false, false, c, dv, dk, T(1), r.k, dk, w.dS, dv, T(0), w.dD, dv);
    gemm<T>(true, false, c, dv, c, T(1), Tw, C, w.dD, dv, T(0), X, dv);
    // [dQ̂; X S_nᵀ] = Z S_nᵀ: the read's dQ̂ = s dO S_nᵀ and dK_b = −X S_nᵀ in one product.
    gemm<T>(false, true, 2 * c, dk, dv, T(1), w.Z, dv, S, dv, T(0), w.dQK, dk);
    // dA = L(−X Δᵀ)
    gemm<T>(false, true, c, c, dv, T(-1), X, dv, D, dv, T(0), w.dA, C);
    // dβ = rowsum(dK_b ⊙ K̂) + rowsum(X ⊙ V) + rowsum(dA ⊙ G)
    for (int64_t i = 0; i < c; ++i) {
      const T *kb = dKb + i * dk, *k = r.k + i * dk, *x = X + i * dv, *v = r.v + i * dv, *a = w.dA + i * C,
              *g = G + i * C;
      T db = 0;
#pragma omp simd reduction(+ : db)
      for (int64_t j = 0; j < dk; ++j) db -= kb[j] * k[j];
#pragma omp simd reduction(+ : db)
      for (int64_t j = 0; j < dv; ++j) db += x[j] * v[j];
#pragma omp simd reduction(+ : db)
      for (int64_t j = 0; j < i; ++j) db += a[j] * g[j];
      out.dbeta[(t0 + i) * h.ld_beta] = db;
    }
    // E = diag(β) dA + (diag(β) dA)ᵀ (the gradient of G, symmetrised), in place over dA.
    T* E = w.dA;
    detail::chunked::symmetrise_scaled(E, r.b, c, C);
    // dK̂ = Δ dS_{n+1}ᵀ + E K̂ + diag(β) dK_b
    gemm<T>(false, true, c, dk, dv, T(1), D, dv, w.dS, dv, T(0), w.dK, dk);
    gemm<T>(false, false, c, dk, c, T(1), E, C, r.k, dk, T(1), w.dK, dk);
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < dk; ++j) w.dK[i * dk + j] -= r.b[i] * dKb[i * dk + j];
    // dV = diag(β) X; then Z = [s·dO; −dV] and dS_n = dS_{n+1} + [Q̂; K̂]ᵀ Z
    // (= s Q̂ᵀ dO − Wᵀ dΔ, as Wᵀ dΔ = K_bᵀ Twᵀ dΔ = K̂ᵀ diag(β) X).
    for (int64_t i = 0; i < c; ++i) {
      T* dv_row = out.dv + (t0 + i) * h.ld_v;
      T* x = X + i * dv;
      for (int64_t j = 0; j < dv; ++j) {
        const T y = r.b[i] * x[j];
        dv_row[j] += y;
        x[j] = -y;
      }
    }
    gemm<T>(true, false, dk, dv, 2 * c, T(1), r.qk, dk, w.Z, dv, T(1), w.dS, dv);

    for (int64_t i = 0; i < c; ++i) {
      const int64_t t = t0 + i;
      store_row_grad(out.dq + t * h.ld_k, w.dQK + i * dk, r.qk + i * dk, r.rq[i], dk, p.l2);
      store_row_grad(out.dk + t * h.ld_k, w.dK + i * dk, r.k + i * dk, r.rk[i], dk, p.l2);
    }
  }
  std::copy(w.dS, w.dS + dk * dv, out.ds0);
}

// ---- KV part: causal softmax attention inside one chunk -------------------------------

template <typename T>
struct KvScratch {
  T *scores, *dprob;  // [C_kv, C_kv]

  static KvScratch carve(Arena<T>& a, const Problem& p) {
    KvScratch w;
    w.scores = a.take(p.kv_chunk * p.kv_chunk), w.dprob = a.take(p.kv_chunk * p.kv_chunk);
    return w;
  }
};

// Forward of the chunk at rows [t0, t0 + c) of one pair (docs/math/kernels.md §3.1 with the whole
// chunk as one tile, so the softmax needs no running rescale): P = softmax(s Q Kᵀ ⊙ M),
// O = P V, LSE = m + log ℓ per row.
template <typename T>
void kv_forward_chunk(const Problem& p, const HeadRows<T>& h, int64_t t0, int64_t c, T* o_kv, T* lse,
                      const KvScratch<T>& w) {
  const int64_t ld = p.kv_chunk;
  T* P = w.scores;
  gemm<T>(false, true, c, c, p.dk, T(p.scale), h.q_kv + t0 * h.ld_k, h.ld_k, h.k_kv + t0 * h.ld_k, h.ld_k, T(0), P,
          ld);
  for (int64_t i = 0; i < c; ++i) {
    T* row = P + i * ld;
    T m = row[0];
    for (int64_t j = 1; j <= i; ++j) m = std::max(m, row[j]);
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j <= i; ++j) {
      row[j] = exp_nonpositive(row[j] - m);
      sum += row[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
    std::fill(row + i + 1, row + c, T(0));
    lse[t0 + i] = m + std::log(sum);
  }
  gemm<T>(false, false, c, p.dv, c, T(1), P, ld, h.v + t0 * h.ld_v, h.ld_v, T(0), o_kv + t0 * h.ld_v, h.ld_v);
}

// Where one pair's KV gradients go: rows at (b, 0, h) of dq_kv, dk_kv and dv (written).
template <typename T>
struct KvGrads {
  T *dq, *dk, *dv;
};

// Backward of one chunk (docs/math/kernels.md §3.2), P recomputed from the saved LSE; d_o (rows at
// (b, 0, h)) may be null: zero gradient. Dl_i = Σ_j P_ij dP_ij, which equals Σ_d dO_id O_id.
template <typename T>
void kv_backward_chunk(const Problem& p, const HeadRows<T>& h, int64_t t0, int64_t c, const T* lse, const T* d_o,
                       const KvGrads<T>& out, const KvScratch<T>& w) {
  const int64_t ld = p.kv_chunk, dk = p.dk, dv = p.dv;
  T* dq = out.dq + t0 * h.ld_k;
  T* dkk = out.dk + t0 * h.ld_k;
  T* dvv = out.dv + t0 * h.ld_v;
  if (!d_o) {
    for (int64_t i = 0; i < c; ++i) {
      std::fill(dq + i * h.ld_k, dq + i * h.ld_k + dk, T(0));
      std::fill(dkk + i * h.ld_k, dkk + i * h.ld_k + dk, T(0));
      std::fill(dvv + i * h.ld_v, dvv + i * h.ld_v + dv, T(0));
    }
    return;
  }
  const T *q = h.q_kv + t0 * h.ld_k, *k = h.k_kv + t0 * h.ld_k, *v = h.v + t0 * h.ld_v;
  const T* dO = d_o + t0 * h.ld_v;
  T *P = w.scores, *dS = w.dprob;
  // P = exp(s Q Kᵀ − LSE), zero above the diagonal.
  gemm<T>(false, true, c, c, dk, T(p.scale), q, h.ld_k, k, h.ld_k, T(0), P, ld);
  for (int64_t i = 0; i < c; ++i) {
    T* row = P + i * ld;
    const T shift = lse[t0 + i];
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) row[j] = exp_nonpositive(row[j] - shift);
    std::fill(row + i + 1, row + c, T(0));
  }
  // dV = Pᵀ dO;  dP = dO Vᵀ;  dS = P ⊙ (dP − Dl).
  gemm<T>(true, false, c, dv, c, T(1), P, ld, dO, h.ld_v, T(0), dvv, h.ld_v);
  gemm<T>(false, true, c, c, dv, T(1), dO, h.ld_v, v, h.ld_v, T(0), dS, ld);
  for (int64_t i = 0; i < c; ++i) {
    const T* prow = P + i * ld;
    T* row = dS + i * ld;
    T dl = 0;
#pragma omp simd reduction(+ : dl)
    for (int64_t j = 0; j <= i; ++j) dl += prow[j] * row[j];
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) row[j] = prow[j] * (row[j] - dl);
    std::fill(row + i + 1, row + c, T(0));
  }
  // dQ = s dS K;  dK = s dSᵀ Q.
  gemm<T>(false, false, c, dk, c, T(p.scale), dS, ld, k, h.ld_k, T(0), dq, h.ld_k);
  gemm<T>(true, false, c, dk, c, T(p.scale), dS, ld, q, h.ld_k, T(0), dkk, h.ld_k);
}

// ---- Scheduling ---------------------------------------------------------------------

int64_t kv_chunks(const Problem& p) { return (p.time + p.kv_chunk - 1) / p.kv_chunk; }

// Roughly the multiply-adds of one pass, to decide whether threads are worth waking.
bool worth_threads(const Problem& p) {
  return should_parallelize(p.batch * p.heads * p.time * (p.fw_block + p.kv_chunk + p.dv) * (p.dk + p.dv));
}

// The per-thread workspace: one tensor, a slice per thread, carved by each item. The
// caching allocator hands the same memory back call after call.
template <typename T>
struct Workspace {
  Tensor storage;
  T* base = nullptr;
  int64_t per_thread = 0;
  int threads = 1;

  Workspace(int64_t per_thread_elems, int64_t items, bool parallel, DType dtype) : per_thread(per_thread_elems) {
    threads = parallel ? int(std::min<int64_t>(omp_get_max_threads(), std::max<int64_t>(items, 1))) : 1;
    storage = empty({threads, per_thread}, dtype);
    base = storage.template data<T>();
  }
  Arena<T> arena() const { return Arena<T>(base + omp_get_thread_num() * per_thread); }
};

template <typename T, typename Scratch>
int64_t scratch_size(const Problem& p) {
  Arena<T> measure;
  Scratch::carve(measure, p);
  return measure.used();
}

template <typename T>
void forward(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv, const Tensor& final_state,
             const Tensor& lse) {
  const int64_t pairs = p.batch * p.heads, chunks = kv_chunks(p), items = pairs + pairs * chunks;
  const int64_t state = p.dk * p.dv;
  const bool parallel = worth_threads(p) && items > 1;
  const Workspace<T> ws(std::max(scratch_size<T, FwForwardScratch<T>>(p), scratch_size<T, KvScratch<T>>(p)), items,
                        parallel, o_fw.dtype());
  const T* s0 = in.initial_state.defined() ? in.initial_state.data<T>() : nullptr;
  T *po_fw = o_fw.data<T>(), *po_kv = o_kv.data<T>(), *pfin = final_state.data<T>(), *plse = lse.data<T>();
  // The FW items (long, sequential over blocks) go first; then the KV chunks fill the gaps.
#pragma omp parallel for schedule(dynamic, 1) num_threads(ws.threads) if (parallel)
  for (int64_t item = 0; item < items; ++item) {
    Arena<T> arena = ws.arena();
    if (item < pairs) {
      const HeadRows<T> h = head_rows<T>(p, in, item);
      fw_forward_head(p, h, s0 ? s0 + item * state : nullptr, advance(po_fw, h.row0_v), pfin + item * state,
                      FwForwardScratch<T>::carve(arena, p));
    } else {
      const int64_t bh = (item - pairs) / chunks, t0 = (item - pairs) % chunks * p.kv_chunk;
      const HeadRows<T> h = head_rows<T>(p, in, bh);
      kv_forward_chunk(p, h, t0, std::min(p.kv_chunk, p.time - t0), po_kv + h.row0_v, plse + bh * p.time,
                       KvScratch<T>::carve(arena, p));
    }
  }
}

template <typename T>
Grads backward(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw, const Tensor& d_o_kv,
               const Tensor& d_final) {
  const DType dt = in.q_fw.dtype();
  Grads g;
  g.q_fw = empty(in.q_fw.shape(), dt), g.k_fw = empty(in.k_fw.shape(), dt);
  g.q_kv = empty(in.q_kv.shape(), dt), g.k_kv = empty(in.k_kv.shape(), dt);
  g.v = empty(in.v.shape(), dt), g.beta = empty(in.beta.shape(), dt);
  g.initial_state = empty({p.batch, p.heads, p.dk, p.dv}, dt);

  const int64_t pairs = p.batch * p.heads, chunks = kv_chunks(p), state = p.dk * p.dv;
  const bool parallel = worth_threads(p) && pairs * chunks > 1;
  const Workspace<T> ws(std::max(scratch_size<T, FwBackwardScratch<T>>(p), scratch_size<T, KvScratch<T>>(p)),
                        pairs * chunks, parallel, dt);
  const T* s0 = in.initial_state.defined() ? in.initial_state.data<T>() : nullptr;
  const T* pd_fw = d_o_fw.defined() ? d_o_fw.data<T>() : nullptr;
  const T* pd_kv = d_o_kv.defined() ? d_o_kv.data<T>() : nullptr;
  const T* pd_fin = d_final.defined() ? d_final.data<T>() : nullptr;
  const T* plse = lse.data<T>();
  T *dq_fw = g.q_fw.data<T>(), *dk_fw = g.k_fw.data<T>(), *dq_kv = g.q_kv.data<T>(), *dk_kv = g.k_kv.data<T>();
  T *dv = g.v.data<T>(), *dbeta = g.beta.data<T>(), *ds0 = g.initial_state.data<T>();

#pragma omp parallel num_threads(ws.threads) if (parallel)
  {
    // The KV chunks first: they write dv (and all of dq_kv, dk_kv).
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < pairs * chunks; ++item) {
      Arena<T> arena = ws.arena();
      const int64_t bh = item / chunks, t0 = item % chunks * p.kv_chunk;
      const HeadRows<T> h = head_rows<T>(p, in, bh);
      kv_backward_chunk(p, h, t0, std::min(p.kv_chunk, p.time - t0), plse + bh * p.time,
                        pd_kv ? pd_kv + h.row0_v : nullptr,
                        KvGrads<T>{dq_kv + h.row0_k, dk_kv + h.row0_k, dv + h.row0_v}, KvScratch<T>::carve(arena, p));
    }
    // (implicit barrier) Then the FW pairs, which add their share to dv.
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < pairs; ++bh) {
      Arena<T> arena = ws.arena();
      const HeadRows<T> h = head_rows<T>(p, in, bh);
      const FwGrads<T> out{advance(dq_fw, h.row0_k), advance(dk_fw, h.row0_k), advance(dv, h.row0_v),
                           advance(dbeta, (bh / p.heads) * p.time * p.heads + bh % p.heads), ds0 + bh * state};
      fw_backward_head(p, h, s0 ? s0 + bh * state : nullptr, pd_fw ? pd_fw + h.row0_v : nullptr,
                       pd_fin ? pd_fin + bh * state : nullptr, out, FwBackwardScratch<T>::carve(arena, p));
    }
  }
  return g;
}

}  // namespace

void forward_cpu(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv,
                 const Tensor& final_state, const Tensor& lse) {
  dispatch_float(o_fw.dtype(), "hybrid_chunk", [&]<typename T>() { forward<T>(p, in, o_fw, o_kv, final_state, lse); });
}

Grads backward_cpu(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw, const Tensor& d_o_kv,
                   const Tensor& d_final) {
  return dispatch_float(in.q_fw.dtype(), "hybrid_chunk",
                        [&]<typename T>() { return backward<T>(p, in, lse, d_o_fw, d_o_kv, d_final); });
}

}  // namespace hqlt::hybrid_chunk_detail
