#pragma once
// The Delayed-Chunk hybrid op as the GPU runs it (docs/math/kernels.md §4), written once as
// host/device phases on the pattern of ops/delta_rule/delta_rule_blocks.h, whose generic
// delta-rule steps (load_rows, normalise_rows, solve_tw, chunk_delta, finish_row) it reuses,
// with the chunked ops' shared pieces (ops/chunked/chunked_blocks.h: Plan, Where, Tiles,
// tile_product, HostPhases, load_state/store_state). The
// same code runs in the CUDA kernels (hybrid_chunk.cu) and, thread by thread, on the CPU in
// the tests (tests/ops/test_hybrid_chunk_blocks.cpp); the math is the CPU kernel's
// (hybrid_chunk_cpu.cpp, NOTES.md).
//
// Two kinds of thread block:
//   * FW: one per (batch, head, slice of d_v columns), sequential over the kernel's chunks,
//     as the delta rule's: column-separable except for the gradients of Q̂, K̂, β, which are
//     written as per-slice shares and added by delta_blocks::finish_row. The FW part is the
//     delta rule with P = 0 (no intra-block term) and a read O_fw = s Q̂ S_F of the state S_F
//     at the start of the token's FW block.
//   * KV: one per (batch, head, attention chunk): the chunk's C_kv×C_kv score tile in
//     shared memory, softmax row by row, products with V and dO read from global memory.
//
// FW block versus kernel chunk. C_fw changes the result (which state a token reads), so the
// kernel's chunk C must divide C_fw; when it is smaller (C_fw = 128, or tiles that only fit
// with C < C_fw) the block keeps S_F in its own tile ("split"), and the backward gathers
// s Q̂ᵀ dO over the FW block's chunks in a tile of its own that joins dS at the FW block's
// first chunk. Without a split those tiles are S and dS themselves.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/chunked/chunked_blocks.h"
#include "ops/delta_rule/delta_rule_blocks.h"

namespace hqlt::detail::hybrid_blocks {

namespace db = delta_blocks;
using chunked::accumulate;
using chunked::HostPhases;
using chunked::kThreads;
using chunked::Cols;
using chunked::Rows;
using chunked::tile_product;
using chunked::TileViews;

// ---- FW part: plan and tiles ------------------------------------------------------------

// The delta rule's plan (kernel chunk C | C_fw, slices of Vs columns, the op's scale) and
// the FW block length.
struct FwPlan {
  db::Plan p;
  int fw_block = 0;
  HQLT_HD bool split() const { return p.C < fw_block; }
};

// The delta rule's tiles without P and dP (null: the FW part has no intra-block term), plus
// S_read and dS_read.
template <typename T>
struct FwTiles {
  db::Tiles<T> t;  // q, k, beta, G, Tw, S, R, D; backward also dA, dS, dO, dD, X
  T* S_read;       // [d_k, Vs+1]: S_F, the state at the FW block's start (= t.S unless split)
  T* dS_read;      // backward: Σ s Q̂ᵀ dO over the FW block's chunks so far (= t.dS unless split)
  size_t words = 0;

  HQLT_HD static FwTiles carve(T* base, const FwPlan& f, bool backward) {
    const db::Plan& p = f.p;
    FwTiles w{};
    chunked::SmemCarver<T> take{base};
    w.t = db::Tiles<T>::carve_with(take, p, backward, false);
    const size_t kv = size_t(p.dk) * p.ld_v();
    w.S_read = f.split() ? take(kv) : w.t.S;
    if (backward) w.dS_read = f.split() ? take(kv) : w.t.dS;
    w.words = w.t.words = take.words;
    return w;
  }
};

// The largest kernel chunk C ≤ min(C_fw, 64) (then the widest slice) whose tiles — the
// backward's when `backward` — fit in `max_bytes`; p.C = 0 when none does (d_k too large).
// As for the delta rule, the backward's recompute of the forward uses the backward's plan.
inline FwPlan make_fw_plan(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv, int64_t fw_block, bool l2,
                           double scale, size_t word_bytes, size_t max_bytes, bool backward) {
  FwPlan f;
  f.fw_block = int(fw_block);
  db::Plan& p = f.p;
  p.B = B, p.T = T, p.H = H, p.dk = dk, p.dv = dv, p.l2 = l2, p.scale = scale;
  const chunked::Cut cut =
      chunked::largest_cut(std::min<int64_t>(fw_block, chunked::kMaxChunk), 8, dv, [&](int C, int Vs) {
        FwPlan t = f;
        t.p.C = C, t.p.Vs = Vs;
        return FwTiles<char>::carve(nullptr, t, backward).words * word_bytes <= max_bytes;
      });
  if (cut.C == 0) return f;  // f.p.C == 0: does not fit
  p.C = cut.C, p.Vs = cut.Vs;
  p.slices = int((dv + p.Vs - 1) / p.Vs);
  p.chunks = int((T + p.C - 1) / p.C);
  return f;
}

// Phase: G = K̂ K̂ᵀ and R ← R − K̂ S_n in place (R holds V on entry): delta_blocks'
// chunk_products without P.
template <typename T>
HQLT_HD void gram_and_residual(int tid, int nt, const db::Plan& p, const db::Tiles<T>& s, int c, int vs) {
  const int dk = int(p.dk), ldc = p.ld_c(), ldv = p.ld_v();
  const TileViews<T> m = TileViews<T>::of(s, p);
  tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, m.K, m.Kt); },
                  [&](int i, int j, T x) { s.G[i * ldc + j] = x; });
  tile_product<T>(tid, nt, c, vs, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, dk, m.K, m.S); },
                  [&](int i, int j, T x) { s.R[i * ldv + j] -= x; });
}

// Phase: dst ← src over a [d_k, Vs+1] tile's live columns.
template <typename T>
HQLT_HD void copy_state(int tid, int nt, const db::Plan& p, const db::Where& w, T* dst, const T* src) {
  const int ldv = p.ld_v();
  for (int e = tid; e < int(p.dk) * w.vs; e += nt) {
    const int i = e / w.vs, j = e % w.vs;
    dst[i * ldv + j] = src[i * ldv + j];
  }
}

// ---- FW forward ---------------------------------------------------------------------------

template <typename T>
struct FwForwardArgs {
  const T *q, *k, *v, *beta;  // q_fw, k_fw [B, T, H, d_k] (raw), v [B, T, H, d_v], β [B, T, H]
  const T* s0;                // [B, H, d_k, d_v] or null (zeros)
  T* o;                       // o_fw [B, T, H, d_v] or null (the backward's recompute)
  T* s_final;                 // [B, H, d_k, d_v] or null
  T* states;                  // [B·H, chunks, d_k, d_v] or null: S_n before each kernel chunk
};

template <typename T, typename Phases>
HQLT_HD void fw_forward_block(const FwForwardArgs<T>& a, const FwPlan& f, T* smem, int64_t block,
                              const Phases& phase) {
  const db::Plan& p = f.p;
  const db::Where w = db::where_of(p, block);
  const FwTiles<T> ft = FwTiles<T>::carve(smem, f, false);
  const db::Tiles<T>& s = ft.t;
  const TileViews<T> m = TileViews<T>::of(s, p);
  const Rows<T> SF{ft.S_read, p.ld_v()};  // S_F
  const int64_t state_at = w.head * p.dk * p.dv;
  const int ldv = p.ld_v(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale);
  phase([&](int tid, int nt) { db::load_state(tid, nt, p, w, s.S, a.s0 ? a.s0 + state_at : nullptr); });
  for (int n = 0; n < p.chunks; ++n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    phase([&](int tid, int nt) {
      db::load_rows(tid, nt, p, w, s, t0, c, a.q, a.k, a.beta,
                    [&](int i, int j) { s.R[i * ldv + j] = a.v[db::row_of(p, w, t0 + i) * p.dv + w.col0 + j]; });
      if (a.states) db::store_state(tid, nt, p, w, s.S, a.states + (w.head * p.chunks + n) * p.dk * p.dv);
      if (f.split() && t0 % f.fw_block == 0) copy_state(tid, nt, p, w, ft.S_read, s.S);
    });
    if (p.l2) phase([&](int tid, int nt) { db::normalise_rows(tid, nt, p, s, c); });
    // G, R = V − K̂ S_n, and the read O_fw = s Q̂ S_F straight to global memory
    // (docs/math/kernels.md §4.1 step 3: no intra-block term).
    phase([&](int tid, int nt) {
      gram_and_residual(tid, nt, p, s, c, vs);
      if (a.o) {
        tile_product<T>(
            tid, nt, c, vs, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, dk, m.Q, SF); },
            [&](int i, int j, T x) { a.o[db::row_of(p, w, t0 + i) * p.dv + w.col0 + j] = scale * x; });
      }
    });
    phase([&](int tid, int nt) { db::solve_tw(tid, nt, p, s, c); });
    phase([&](int tid, int nt) { db::chunk_delta(tid, nt, p, s, c, vs); });
    // S_{n+1} = S_n + K̂ᵀ Δ.
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, m.Kt, m.D); },
                      [&](int i, int j, T x) { s.S[i * ldv + j] += x; });
    });
  }
  if (a.s_final) phase([&](int tid, int nt) { db::store_state(tid, nt, p, w, s.S, a.s_final + state_at); });
}

// ---- FW backward --------------------------------------------------------------------------

template <typename T>
struct FwBackwardArgs {
  const T *q, *k, *v, *beta;  // the raw inputs, as in FwForwardArgs
  const T* states;            // S_n before each kernel chunk, from fw_forward_block
  const T* d_o;               // d o_fw [B, T, H, d_v] or null (zero)
  const T* d_final;           // [B, H, d_k, d_v] or null (zero)
  T* dv;                      // [B, T, H, d_v]: holds the KV part's dv; the FW part is added
  T* ds0;                     // [B, H, d_k, d_v]
  T *part_q, *part_k;         // [slices, B·T·H, d_k]: each slice's share of ∂L/∂Q̂, ∂L/∂K̂
  T* part_beta;               // [slices, B·T·H]
};

// The reverse pass over one block's chunks (NOTES.md "Backward", docs/math/kernels.md §4.2: §2.3
// with P = 0), carrying dS = ∂L/∂S_{n+1}.
template <typename T, typename Phases>
HQLT_HD void fw_backward_block(const FwBackwardArgs<T>& a, const FwPlan& f, T* smem, int64_t block,
                               const Phases& phase) {
  const db::Plan& p = f.p;
  const db::Where w = db::where_of(p, block);
  const FwTiles<T> ft = FwTiles<T>::carve(smem, f, true);
  const db::Tiles<T>& s = ft.t;
  const int64_t state_at = w.head * p.dk * p.dv, z = block % p.slices;
  const int ldv = p.ld_v(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale);
  T* part_q = a.part_q + z * p.rows() * p.dk;
  T* part_k = a.part_k + z * p.rows() * p.dk;
  T* part_beta = a.part_beta + z * p.rows();

  const TileViews<T> m = TileViews<T>::of(s, p);
  const Cols<T> SFt{ft.S_read, p.ld_v()};  // S_Fᵀ

  phase([&](int tid, int nt) {
    db::load_state(tid, nt, p, w, s.dS, a.d_final ? a.d_final + state_at : nullptr);
    if (f.split()) db::load_state(tid, nt, p, w, ft.dS_read, static_cast<const T*>(nullptr));
  });
  const int per_block = f.split() ? f.fw_block / p.C : 1;  // kernel chunks per FW block
  for (int n = p.chunks - 1; n >= 0; --n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    const bool block_start = n % per_block == 0;
    // The chunk's inputs, its slice of dO, S_n, and (split) S_F.
    phase([&](int tid, int nt) {
      db::load_rows(tid, nt, p, w, s, t0, c, a.q, a.k, a.beta, [&](int i, int j) {
        const int64_t at = db::row_of(p, w, t0 + i) * p.dv + w.col0 + j;
        s.R[i * ldv + j] = a.v[at];
        s.dO[i * ldv + j] = a.d_o ? a.d_o[at] : T(0);
      });
      db::load_state(tid, nt, p, w, s.S, a.states + (w.head * p.chunks + n) * p.dk * p.dv);
      if (f.split()) {
        const int first = n - n % per_block;
        db::load_state(tid, nt, p, w, ft.S_read, a.states + (w.head * p.chunks + first) * p.dk * p.dv);
      }
    });
    if (p.l2) phase([&](int tid, int nt) { db::normalise_rows(tid, nt, p, s, c); });
    // Recompute G and R = V − K̂ S_n; dΔ = K̂ dS_{n+1}.
    phase([&](int tid, int nt) {
      gram_and_residual(tid, nt, p, s, c, vs);
      tile_product<T>(tid, nt, c, vs, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, dk, m.K, m.dS); },
                      [&](int i, int j, T x) { s.dD[i * ldv + j] = x; });
    });
    phase([&](int tid, int nt) { db::solve_tw(tid, nt, p, s, c); });
    // Δ = Tw diag(β) R, and X = Twᵀ dΔ, the gradient of diag(β)(V − K̂ S_n).
    phase([&](int tid, int nt) {
      db::chunk_delta(tid, nt, p, s, c, vs);
      db::grad_x(tid, nt, p, s, c, vs);
    });
    // dA = −L(X Δᵀ), strictly lower;  dv += diag(β) X (this slice's columns are this
    // block's alone);  this slice's share of dQ̂ = s dO S_Fᵀ.
    phase([&](int tid, int nt) {
      db::grad_a(tid, nt, p, s, c, vs);
      for (int e = tid; e < c * vs; e += nt) {
        const int i = e / vs, j = e % vs;
        a.dv[db::row_of(p, w, t0 + i) * p.dv + w.col0 + j] += s.beta[i] * s.X[i * ldv + j];
      }
      tile_product<T>(tid, nt, c, dk,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, dk, vs, m.dO, SFt); },
                      [&](int i, int j, T x) { part_q[db::row_of(p, w, t0 + i) * p.dk + j] = scale * x; });
    });
    // dβ's share (as in delta_blocks).
    phase([&](int tid, int nt) { db::beta_share(tid, nt, p, w, s, t0, c, part_beta); });
    phase([&](int tid, int nt) { db::symmetrise_da(tid, nt, p, s, c); });
    // dK̂'s share = Δ dS_{n+1}ᵀ + E K̂ − diag(β) X S_nᵀ.
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, c, dk,
          [&](T(&acc)[2][2], int i0, int j0) {
            accumulate(acc, i0, j0, c, dk, vs, m.D, m.dSt);
            accumulate(acc, i0, j0, c, dk, c, m.E, m.K);
            accumulate(acc, i0, j0, c, dk, vs, m.Xb, m.St);
          },
          [&](int i, int j, T x) { part_k[db::row_of(p, w, t0 + i) * p.dk + j] = x; });
    });
    // dS_n = dS_{n+1} − K_bᵀ X, plus the read's s Q̂ᵀ dO, which belongs to S_F: straight into
    // dS without a split; else gathered in dS_read, which joins dS at the FW block's first
    // chunk. Both products give each thread the same elements, so the second may read
    // what the first wrote.
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, m.Qt, m.dO); },
                      [&](int i, int j, T x) { ft.dS_read[i * ldv + j] += scale * x; });
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, m.KbT, m.X); },
                      [&](int i, int j, T x) {
                        T& d = s.dS[i * ldv + j];
                        d += x;
                        if (f.split() && block_start) {
                          d += ft.dS_read[i * ldv + j];
                          ft.dS_read[i * ldv + j] = T(0);
                        }
                      });
    });
  }
  phase([&](int tid, int nt) { db::store_state(tid, nt, p, w, s.dS, a.ds0 + state_at); });
}

// ---- KV part: within-chunk causal softmax attention ------------------------------------

// One thread block per (batch, head, attention chunk of C rows).
struct KvPlan : chunked::ChunkedShape {
  int C = 0;       // C_kv; 0 when the tiles do not fit
  int chunks = 0;  // ceil(T / C)
  double scale = 1;

  HQLT_HD int ld_k() const { return int(dk) + 1; }
  HQLT_HD int ld_c() const { return C + 1; }
  HQLT_HD int64_t blocks() const { return B * H * chunks; }
  HQLT_HD int chunk_rows(int n) const { return int(hd_min<int64_t>(C, T - int64_t(n) * C)); }
};

template <typename T>
struct KvTiles {
  T *q, *k;  // [C, d_k+1]
  T *P, *dS;  // [C, C+1]; dS only in the backward
  size_t words = 0;

  HQLT_HD static KvTiles carve(T* base, const KvPlan& p, bool backward) {
    KvTiles t{};
    chunked::SmemCarver<T> take{base};
    const size_t ck = size_t(p.C) * p.ld_k(), cc = size_t(p.C) * p.ld_c();
    t.q = take(ck), t.k = take(ck), t.P = take(cc);
    t.dS = backward ? take(cc) : nullptr;
    t.words = take.words;
    return t;
  }
};

// C = chunk_size when the tiles fit in `max_bytes`, else 0 (chunk and d_k too large).
inline KvPlan make_kv_plan(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv, int64_t chunk_size, double scale,
                           size_t word_bytes, size_t max_bytes, bool backward) {
  KvPlan p;
  p.B = B, p.T = T, p.H = H, p.dk = dk, p.dv = dv, p.scale = scale;
  p.C = int(chunk_size);
  if (KvTiles<char>::carve(nullptr, p, backward).words * word_bytes > max_bytes) {
    p.C = 0;
    return p;
  }
  p.chunks = int((T + p.C - 1) / p.C);
  return p;
}

// Where KV block `block` works: rows t0 .. t0 + c − 1 of pair (b, h).
struct KvWhere {
  int64_t b, h, head, t0;
  int c;
};

HQLT_HD inline KvWhere kv_where_of(const KvPlan& p, int64_t block) {
  KvWhere w;
  const int n = int(block % p.chunks);
  w.head = block / p.chunks;
  w.b = w.head / p.H, w.h = w.head % p.H;
  w.t0 = int64_t(n) * p.C;
  w.c = p.chunk_rows(n);
  return w;
}

// Offset of the chunk's row i in a [B, T, H, d] tensor, in rows.
HQLT_HD inline int64_t kv_row(const KvPlan& p, const KvWhere& w, int i) { return (w.b * p.T + w.t0 + i) * p.H + w.h; }

// Phase: the chunk's raw q_kv, k_kv rows into the tiles.
template <typename T>
HQLT_HD void kv_load(int tid, int nt, const KvPlan& p, const KvWhere& w, const KvTiles<T>& s, const T* q,
                     const T* k) {
  const int dk = int(p.dk), ldk = p.ld_k();
  for (int e = tid; e < w.c * dk; e += nt) {
    const int i = e / dk, j = e % dk;
    const int64_t at = kv_row(p, w, i) * p.dk + j;
    s.q[i * ldk + j] = q[at];
    s.k[i * ldk + j] = k[at];
  }
}

// Phase: P = s Q Kᵀ ⊙ M (zero above the diagonal).
template <typename T>
HQLT_HD void kv_scores(int tid, int nt, const KvPlan& p, const KvWhere& w, const KvTiles<T>& s) {
  const int dk = int(p.dk), ldk = p.ld_k(), ldc = p.ld_c(), c = w.c;
  const T scale = T(p.scale);
  const Rows<T> Q{s.q, ldk};
  const Cols<T> Kt{s.k, ldk};  // K̂ᵀ
  tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, Q, Kt); },
                  [&](int i, int j, T x) { s.P[i * ldc + j] = j <= i ? scale * x : T(0); });
}

// Row i of the softmax over its causal scores (docs/math/kernels.md §3.1 with the whole chunk as
// one tile, so no running rescale): row[j] ← exp(row[j] − m) / ℓ for j ≤ i; returns
// LSE = m + log ℓ. The CPU kernel's order of operations.
template <typename T>
HQLT_HD T softmax_row(T* row, int i) {
  T m = row[0];
  for (int j = 1; j <= i; ++j) m = hd_max(m, row[j]);
  T sum = 0;
  for (int j = 0; j <= i; ++j) {
    row[j] = std::exp(row[j] - m);
    sum += row[j];
  }
  const T inv = T(1) / sum;
  for (int j = 0; j <= i; ++j) row[j] *= inv;
  return m + std::log(sum);
}

template <typename T>
struct KvForwardArgs {
  const T *q, *k, *v;  // q_kv, k_kv [B, T, H, d_k], v [B, T, H, d_v]
  T* o;                // o_kv [B, T, H, d_v]
  T* lse;              // [B, H, T]
};

template <typename T, typename Phases>
HQLT_HD void kv_forward_block(const KvForwardArgs<T>& a, const KvPlan& p, T* smem, int64_t block,
                              const Phases& phase) {
  const KvWhere w = kv_where_of(p, block);
  const KvTiles<T> s = KvTiles<T>::carve(smem, p, false);
  const int ldc = p.ld_c(), c = w.c, dv = int(p.dv);
  phase([&](int tid, int nt) { kv_load(tid, nt, p, w, s, a.q, a.k); });
  phase([&](int tid, int nt) { kv_scores(tid, nt, p, w, s); });
  phase([&](int tid, int nt) {
    for (int i = tid; i < c; i += nt) a.lse[w.head * p.T + w.t0 + i] = softmax_row(s.P + i * ldc, i);
  });
  // O = P V, V read from global memory.
  phase([&](int tid, int nt) {
    const Rows<T> P{s.P, ldc};
    auto V = [&](int l, int j) { return a.v[kv_row(p, w, l) * p.dv + j]; };
    tile_product<T>(tid, nt, c, dv, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, dv, c, P, V); },
                    [&](int i, int j, T x) { a.o[kv_row(p, w, i) * p.dv + j] = x; });
  });
}

template <typename T>
struct KvBackwardArgs {
  const T *q, *k, *v;  // as in KvForwardArgs
  const T* lse;        // [B, H, T], from the forward
  const T* d_o;        // d o_kv [B, T, H, d_v] or null (zero)
  T *dq, *dk;          // dq_kv, dk_kv [B, T, H, d_k]
  T* dv;               // [B, T, H, d_v]: the KV part's dv (the FW pass adds its own)
};

// Backward of one chunk (docs/math/kernels.md §3.2, NOTES.md): P = exp(s Q Kᵀ − LSE) ⊙ M
// recomputed, dV = Pᵀ dO, dS = P ⊙ (dO Vᵀ − Dl) with Dl_i = Σ_j P_ij dP_ij, dQ = s dS K,
// dK = s dSᵀ Q.
template <typename T, typename Phases>
HQLT_HD void kv_backward_block(const KvBackwardArgs<T>& a, const KvPlan& p, T* smem, int64_t block,
                               const Phases& phase) {
  const KvWhere w = kv_where_of(p, block);
  const KvTiles<T> s = KvTiles<T>::carve(smem, p, true);
  const int ldc = p.ld_c(), ldk = p.ld_k(), c = w.c, dk = int(p.dk), dv = int(p.dv);
  const T scale = T(p.scale);
  if (!a.d_o) {  // no gradient reached o_kv: every KV gradient is zero
    phase([&](int tid, int nt) {
      for (int e = tid; e < c * dk; e += nt) {
        const int64_t at = kv_row(p, w, e / dk) * p.dk + e % dk;
        a.dq[at] = T(0), a.dk[at] = T(0);
      }
      for (int e = tid; e < c * dv; e += nt) a.dv[kv_row(p, w, e / dv) * p.dv + e % dv] = T(0);
    });
    return;
  }
  phase([&](int tid, int nt) { kv_load(tid, nt, p, w, s, a.q, a.k); });
  phase([&](int tid, int nt) { kv_scores(tid, nt, p, w, s); });
  phase([&](int tid, int nt) {
    for (int i = tid; i < c; i += nt) {
      const T shift = a.lse[w.head * p.T + w.t0 + i];
      for (int j = 0; j <= i; ++j) s.P[i * ldc + j] = std::exp(s.P[i * ldc + j] - shift);
    }
  });
  // dV = Pᵀ dO (complete for these rows: only this chunk's queries see them); dP = dO Vᵀ.
  phase([&](int tid, int nt) {
    const Cols<T> Pt{s.P, ldc};
    auto dOg = [&](int l, int j) { return a.d_o[kv_row(p, w, l) * p.dv + j]; };
    auto dOr = [&](int i, int l) { return a.d_o[kv_row(p, w, i) * p.dv + l]; };
    auto Vt = [&](int l, int j) { return a.v[kv_row(p, w, j) * p.dv + l]; };
    tile_product<T>(tid, nt, c, dv, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, dv, c, Pt, dOg); },
                    [&](int i, int j, T x) { a.dv[kv_row(p, w, i) * p.dv + j] = x; });
    tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dv, dOr, Vt); },
                    [&](int i, int j, T x) { s.dS[i * ldc + j] = j <= i ? x : T(0); });
  });
  // dS = P ⊙ (dP − Dl), one thread per row.
  phase([&](int tid, int nt) {
    for (int i = tid; i < c; i += nt) {
      const T* prow = s.P + i * ldc;
      T* row = s.dS + i * ldc;
      T dl = 0;
      for (int j = 0; j <= i; ++j) dl += prow[j] * row[j];
      for (int j = 0; j <= i; ++j) row[j] = prow[j] * (row[j] - dl);
    }
  });
  // dQ = s dS K;  dK = s dSᵀ Q.
  phase([&](int tid, int nt) {
    const Rows<T> dSm{s.dS, ldc}, K{s.k, ldk}, Q{s.q, ldk};
    const Cols<T> dSt{s.dS, ldc};
    tile_product<T>(tid, nt, c, dk, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, dk, c, dSm, K); },
                    [&](int i, int j, T x) { a.dq[kv_row(p, w, i) * p.dk + j] = scale * x; });
    tile_product<T>(tid, nt, c, dk, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, dk, c, dSt, Q); },
                    [&](int i, int j, T x) { a.dk[kv_row(p, w, i) * p.dk + j] = scale * x; });
  });
}

}  // namespace hqlt::detail::hybrid_blocks
