#pragma once
// The chunkwise delta rule as the GPU runs it: one thread block per (batch, head, slice of
// d_v columns), written once as host/device code so that the very same algorithm runs in
// the CUDA kernels (delta_rule.cu) and, thread by thread, on the CPU in the tests
// (tests/ops/test_delta_rule_blocks.cpp). The math is the CPU kernel's (delta_rule_cpu.cpp,
// NOTES.md, docs/math/kernels.md §2); what differs is how the work is cut.
//
// Why slices of d_v. Every quantity of the forward is column-separable in d_v: with the
// chunk's K̂, β fixed, Δ = Tw (V_b − K_b S_n), O = s (Q̂ S_n + P Δ) and S += K̂ᵀ Δ only mix
// columns of V, S, Δ, O with themselves. So block z owns columns [z·Vs, z·Vs + Vs) of S
// (in shared memory) and of everything else, and recomputes the chunk's [c, c] tiles
// (G, Tw, P) on its own. The backward is column-separable too except for the gradients of
// Q̂, K̂ and β, which sum over all columns; they are linear in the per-slice terms, so each
// block writes its slice's share ("partials") and a last pass (finish_row) adds the shares
// in a fixed order and applies the ℓ2 backward — deterministic, no atomics.
//
// Why phases. A block's work is a sequence of phases; in each, every thread computes its
// own outputs from data that earlier phases wrote, and a phase ends at a barrier. No
// thread reads what another thread writes in the same phase, so running the threads one
// after the other (HostPhases) gives exactly the GPU's result; compute-sanitizer's
// racecheck checks that discipline on the GPU.
//
// Products. Every [m, n] product of shared-memory tiles is cut into 2×2 register tiles
// (tile_product): each thread loads 2 + 2 values per step of the inner dim for 4 FMAs.
// Leading dims are padded by one word so that the threads of a warp reading down a column
// fall in different banks. The plan, the tiles, the product and HostPhases are the chunked
// ops' shared pieces (ops/chunked/chunked_blocks.h).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/chunked/chunked_blocks.h"

namespace hqlt::detail::delta_blocks {


// The shared pieces (ops/chunked/chunked_blocks.h): the plan and its search, the tiles and
// their carving, the tile product, where a block works, the state's load and store.
using chunked::accumulate;
using chunked::HostPhases;
using chunked::kMaxChunk;
using chunked::kThreads;
using chunked::Plan;
using chunked::row_of;
using chunked::SmemCarver;
using chunked::tile_product;
using chunked::Tiles;
using chunked::TileViews;
using chunked::Where;
using chunked::where_of;
// The largest chunk (then the widest slice) whose tiles — the backward's when `backward`,
// which needs more — fit in `max_bytes` of shared memory per block; C = 0 when even C = 8,
// Vs = 8 does not fit (d_k too large). The backward's own recompute of the forward uses
// the backward's plan, so that both see the same chunks.
inline Plan make_plan(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv, int64_t chunk_size, bool l2,
                      size_t word_bytes, size_t max_bytes, bool backward) {
  Plan p;
  p.B = B, p.T = T, p.H = H, p.dk = dk, p.dv = dv, p.l2 = l2;
  p.scale = 1.0 / std::sqrt(double(dk));
  const int widest = int(std::min<int64_t>(64, std::max<int64_t>(8, dv)));
  for (int C = int(std::min<int64_t>(chunk_size, kMaxChunk)); C >= 8; C /= 2) {
    for (int Vs = widest; Vs >= 8; Vs = Vs > 8 ? std::max(8, Vs / 2) : 0) {
      Plan t = p;
      t.C = C, t.Vs = Vs;
      if (Tiles<char>::carve(nullptr, t, backward).words * word_bytes <= max_bytes) {
        t.slices = int((dv + Vs - 1) / Vs);
        t.chunks = int((T + C - 1) / C);
        return t;
      }
    }
  }
  return p;  // p.C == 0: does not fit
}

// Phase: raw q, k rows and β into the tiles; `cols(i, j, value)` loads further [c, vs]
// tiles (V, dO) in the same phase.
template <typename T, typename Cols>
HQLT_HD void load_rows(int tid, int nt, const Plan& p, const Where& w, const Tiles<T>& s, int64_t t0, int c,
                       const T* q, const T* k, const T* beta, const Cols& cols) {
  const int dk = int(p.dk), ldk = p.ld_k();
  for (int e = tid; e < c * dk; e += nt) {
    const int i = e / dk, j = e % dk;
    const int64_t at = row_of(p, w, t0 + i) * p.dk + j;
    s.q[i * ldk + j] = q[at];
    s.k[i * ldk + j] = k[at];
  }
  for (int i = tid; i < c; i += nt) s.beta[i] = beta[row_of(p, w, t0 + i)];
  for (int e = tid; e < c * w.vs; e += nt) cols(e / w.vs, e % w.vs);
}

// Phase: ℓ2-normalise rows of Q̂ and K̂ in place (docs/math/models.md §1.3), one thread per row.
template <typename T>
HQLT_HD void normalise_rows(int tid, int nt, const Plan& p, const Tiles<T>& s, int c) {
  const int dk = int(p.dk), ldk = p.ld_k();
  for (int e = tid; e < 2 * c; e += nt) {
    T* row = (e < c ? s.q : s.k) + (e % c) * ldk;
    T sum_sq = 0;
    for (int j = 0; j < dk; ++j) sum_sq += row[j] * row[j];
    const T r = T(1) / std::sqrt(sum_sq + T(p.l2_eps));
    for (int j = 0; j < dk; ++j) row[j] *= r;
  }
}

// Phase: G = K̂ K̂ᵀ, P = (Q̂ K̂ᵀ) ⊙ M, and R ← R − K̂ S_n in place (R holds V on entry).
template <typename T>
HQLT_HD void chunk_products(int tid, int nt, const Plan& p, const Tiles<T>& s, int c, int vs) {
  const int dk = int(p.dk), ldc = p.ld_c(), ldv = p.ld_v();
  const TileViews<T> m = TileViews<T>::of(s, p);
  tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, m.K, m.Kt); },
                  [&](int i, int j, T x) { s.G[i * ldc + j] = x; });
  tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, m.Q, m.Kt); },
                  [&](int i, int j, T x) { s.P[i * ldc + j] = j <= i ? x : T(0); });
  tile_product<T>(tid, nt, c, vs, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, dk, m.K, m.S); },
                  [&](int i, int j, T x) { s.R[i * ldv + j] -= x; });
}

// Phase: Tw = (I + L(diag(β) G))⁻¹ (docs/math/kernels.md §2.2 F3), one thread per column:
// Tw_ij = δ_ij − β_i Σ_{j≤l<i} G_il Tw_lj, and column j is zero above row j. A column reads
// only itself and G, so the columns need no barrier between them.
template <typename T>
HQLT_HD void solve_tw(int tid, int nt, const Plan& p, const Tiles<T>& s, int c) {
  const int ldc = p.ld_c();
  for (int j = tid; j < c; j += nt) {
    for (int i = 0; i < j; ++i) s.Tw[i * ldc + j] = T(0);
    s.Tw[j * ldc + j] = T(1);
    for (int i = j + 1; i < c; ++i) {
      T acc = 0;
      for (int l = j; l < i; ++l) acc += s.G[i * ldc + l] * s.Tw[l * ldc + j];
      s.Tw[i * ldc + j] = -s.beta[i] * acc;
    }
  }
}

// Phase: Δ = Tw · diag(β) R  (R = V − K̂ S_n).
template <typename T>
HQLT_HD void chunk_delta(int tid, int nt, const Plan& p, const Tiles<T>& s, int c, int vs) {
  const int ldv = p.ld_v();
  const TileViews<T> m = TileViews<T>::of(s, p);
  tile_product<T>(tid, nt, c, vs,
                  [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, c, m.Tw, m.Rb); },
                  [&](int i, int j, T x) { s.D[i * ldv + j] = x; });
}

using chunked::load_state;
using chunked::store_state;

// Phase body: B7, X = Twᵀ dΔ, the gradient of diag(β)(V − K̂ S_n) (= dV_b).
template <typename T>
HQLT_HD void grad_x(int tid, int nt, const Plan& p, const Tiles<T>& s, int c, int vs) {
  const int ldv = p.ld_v();
  const TileViews<T> m = TileViews<T>::of(s, p);
  tile_product<T>(tid, nt, c, vs,
                  [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, vs, c, m.Twt, m.dD); },
                  [&](int i, int j, T x) { s.X[i * ldv + j] = x; });
}

// Phase body: B9–B10, dA = −L(X Δᵀ), strictly lower.
template <typename T>
HQLT_HD void grad_a(int tid, int nt, const Plan& p, const Tiles<T>& s, int c, int vs) {
  const int ldc = p.ld_c();
  const TileViews<T> m = TileViews<T>::of(s, p);
  tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, vs, m.X, m.Dt); },
                  [&](int i, int j, T x) { s.dA[i * ldc + j] = j < i ? -x : T(0); });
}

// Phase body: this slice's share of B13, dβ = rowsum(X ⊙ R) + rowsum(dA ⊙ G) (R = V − K̂ S_n:
// rowsum(dK_b ⊙ K̂) + rowsum(X ⊙ V) = rowsum(X ⊙ (V − K̂ S_n)) with dK_b = −X S_nᵀ).
template <typename T>
HQLT_HD void beta_share(int tid, int nt, const Plan& p, const Where& w, const Tiles<T>& s, int64_t t0, int c,
                        T* part_beta) {
  const int ldv = p.ld_v(), ldc = p.ld_c();
  for (int i = tid; i < c; i += nt) {
    T db = 0;
    for (int j = 0; j < w.vs; ++j) db += s.X[i * ldv + j] * s.R[i * ldv + j];
    for (int j = 0; j < i; ++j) db += s.dA[i * ldc + j] * s.G[i * ldc + j];
    part_beta[row_of(p, w, t0 + i)] = db;
  }
}

// Phase body: E = diag(β) dA + (diag(β) dA)ᵀ in place over dA, zero diagonal (B11's two dA
// terms as one product). The thread of (i, j), j < i, writes both (i, j) and (j, i).
template <typename T>
HQLT_HD void symmetrise_da(int tid, int nt, const Plan& p, const Tiles<T>& s, int c) {
  const int ldc = p.ld_c();
  for (int e = tid; e < c * c; e += nt) {
    const int i = e / c, j = e % c;
    if (j < i) {
      const T x = s.beta[i] * s.dA[i * ldc + j];
      s.dA[i * ldc + j] = x;
      s.dA[j * ldc + i] = x;
    } else if (j == i) {
      s.dA[i * ldc + i] = T(0);
    }
  }
}

// ---- forward -----------------------------------------------------------------------------

template <typename T>
struct ForwardArgs {
  const T *q, *k, *v, *beta;  // [B, T, H, d_k], [B, T, H, d_k], [B, T, H, d_v], [B, T, H]
  const T* s0;                // [B, H, d_k, d_v] or null (zeros)
  T* o;                       // [B, T, H, d_v] or null (not needed: the backward's recompute)
  T* s_final;                 // [B, H, d_k, d_v] or null
  T* states;                  // [B·H, chunks, d_k, d_v] or null: S_n before each chunk, for the backward
};

template <typename T, typename Phases>
HQLT_HD void forward_block(const ForwardArgs<T>& a, const Plan& p, T* smem, int64_t block, const Phases& phase) {
  const Where w = where_of(p, block);
  const Tiles<T> s = Tiles<T>::carve(smem, p, false);
  const TileViews<T> m = TileViews<T>::of(s, p);
  const int64_t state_at = w.head * p.dk * p.dv;
  const int ldv = p.ld_v(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale);
  phase([&](int tid, int nt) { load_state(tid, nt, p, w, s.S, a.s0 ? a.s0 + state_at : nullptr); });
  for (int n = 0; n < p.chunks; ++n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    phase([&](int tid, int nt) {
      load_rows(tid, nt, p, w, s, t0, c, a.q, a.k, a.beta,
                [&](int i, int j) { s.R[i * ldv + j] = a.v[row_of(p, w, t0 + i) * p.dv + w.col0 + j]; });
      if (a.states) store_state(tid, nt, p, w, s.S, a.states + (w.head * p.chunks + n) * p.dk * p.dv);
    });
    if (p.l2) phase([&](int tid, int nt) { normalise_rows(tid, nt, p, s, c); });
    phase([&](int tid, int nt) { chunk_products(tid, nt, p, s, c, vs); });
    phase([&](int tid, int nt) { solve_tw(tid, nt, p, s, c); });
    phase([&](int tid, int nt) { chunk_delta(tid, nt, p, s, c, vs); });
    // F8: O = s (Q̂ S_n + P Δ), straight to global memory.
    if (a.o) {
      phase([&](int tid, int nt) {
        tile_product<T>(
            tid, nt, c, vs,
            [&](T(&acc)[2][2], int i0, int j0) {
              accumulate(acc, i0, j0, c, vs, dk, m.Q, m.S);
              accumulate(acc, i0, j0, c, vs, c, m.P, m.D);
            },
            [&](int i, int j, T x) { a.o[row_of(p, w, t0 + i) * p.dv + w.col0 + j] = scale * x; });
      });
    }
    // F7: S_{n+1} = S_n + K̂ᵀ Δ (after the barrier: the output read S_n).
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, m.Kt, m.D); },
                      [&](int i, int j, T x) { s.S[i * ldv + j] += x; });
    });
  }
  if (a.s_final) phase([&](int tid, int nt) { store_state(tid, nt, p, w, s.S, a.s_final + state_at); });
}

// ---- backward ------------------------------------------------------------------------------

template <typename T>
struct BackwardArgs {
  const T *q, *k, *v, *beta;  // the raw inputs, as in ForwardArgs
  const T* states;            // S_n before each chunk, from forward_block
  const T* d_o;               // [B, T, H, d_v] or null (zero)
  const T* d_final;           // [B, H, d_k, d_v] or null (zero)
  T* dv;                      // [B, T, H, d_v]: complete per slice
  T* ds0;                     // [B, H, d_k, d_v]
  T *part_q, *part_k;         // [slices, B·T·H, d_k]: each slice's share of ∂L/∂Q̂, ∂L/∂K̂
  T* part_beta;               // [slices, B·T·H]
};

// The reverse pass over one block's chunks (NOTES.md "Backward"), carrying dS = ∂L/∂S_{n+1}.
template <typename T, typename Phases>
HQLT_HD void backward_block(const BackwardArgs<T>& a, const Plan& p, T* smem, int64_t block,
                            const Phases& phase) {
  const Where w = where_of(p, block);
  const Tiles<T> s = Tiles<T>::carve(smem, p, true);
  const int64_t state_at = w.head * p.dk * p.dv, z = block % p.slices;
  const int ldv = p.ld_v(), ldc = p.ld_c(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale);
  T* part_q = a.part_q + z * p.rows() * p.dk;
  T* part_k = a.part_k + z * p.rows() * p.dk;
  T* part_beta = a.part_beta + z * p.rows();

  const TileViews<T> m = TileViews<T>::of(s, p);

  phase([&](int tid, int nt) { load_state(tid, nt, p, w, s.dS, a.d_final ? a.d_final + state_at : nullptr); });
  for (int n = p.chunks - 1; n >= 0; --n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    // The chunk's inputs, its slice of dO, and S_n.
    phase([&](int tid, int nt) {
      load_rows(tid, nt, p, w, s, t0, c, a.q, a.k, a.beta, [&](int i, int j) {
        const int64_t at = row_of(p, w, t0 + i) * p.dv + w.col0 + j;
        s.R[i * ldv + j] = a.v[at];
        s.dO[i * ldv + j] = a.d_o ? a.d_o[at] : T(0);
      });
      load_state(tid, nt, p, w, s.S, a.states + (w.head * p.chunks + n) * p.dk * p.dv);
    });
    if (p.l2) phase([&](int tid, int nt) { normalise_rows(tid, nt, p, s, c); });
    // Recompute G, P, R = V − K̂ S_n, Tw and Δ as the forward did.
    phase([&](int tid, int nt) { chunk_products(tid, nt, p, s, c, vs); });
    phase([&](int tid, int nt) { solve_tw(tid, nt, p, s, c); });
    phase([&](int tid, int nt) { chunk_delta(tid, nt, p, s, c, vs); });
    // B1–B2, B5: dP = s (dO Δᵀ) ⊙ M;  dΔ = s Pᵀ dO + K̂ dS.
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, vs, m.dO, m.Dt); },
                      [&](int i, int j, T x) { s.dP[i * ldc + j] = j <= i ? scale * x : T(0); });
      tile_product<T>(
          tid, nt, c, vs,
          [&](T(&acc)[2][2], int i0, int j0) {
            T pd[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
            accumulate(pd, i0, j0, c, vs, c, m.Pt, m.dO);
            for (int r = 0; r < 2; ++r)
              for (int q = 0; q < 2; ++q) acc[r][q] += scale * pd[r][q];
            accumulate(acc, i0, j0, c, vs, dk, m.K, m.dS);
          },
          [&](int i, int j, T x) { s.dD[i * ldv + j] = x; });
    });
    phase([&](int tid, int nt) { grad_x(tid, nt, p, s, c, vs); });
    // B9–B10: dA;  B12: dv = diag(β) X, complete for this slice.
    phase([&](int tid, int nt) {
      grad_a(tid, nt, p, s, c, vs);
      for (int e = tid; e < c * vs; e += nt) {
        const int i = e / vs, j = e % vs;
        a.dv[row_of(p, w, t0 + i) * p.dv + w.col0 + j] = s.beta[i] * s.X[i * ldv + j];
      }
    });
    // This slice's shares of B13 dβ and of B3 dQ̂ = s dO S_nᵀ + dP K̂.
    phase([&](int tid, int nt) {
      beta_share(tid, nt, p, w, s, t0, c, part_beta);
      tile_product<T>(
          tid, nt, c, dk,
          [&](T(&acc)[2][2], int i0, int j0) {
            T ds[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
            accumulate(ds, i0, j0, c, dk, vs, m.dO, m.St);
            for (int r = 0; r < 2; ++r)
              for (int q = 0; q < 2; ++q) acc[r][q] += scale * ds[r][q];
            accumulate(acc, i0, j0, c, dk, c, m.dP, m.K);
          },
          [&](int i, int j, T x) { part_q[row_of(p, w, t0 + i) * p.dk + j] = x; });
    });
    phase([&](int tid, int nt) { symmetrise_da(tid, nt, p, s, c); });
    // B4 + B11: dK̂ = dPᵀ Q̂ + Δ dSᵀ + E K̂ − diag(β) X S_nᵀ  (this slice's share).
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, c, dk,
          [&](T(&acc)[2][2], int i0, int j0) {
            accumulate(acc, i0, j0, c, dk, c, m.dPt, m.Q);
            accumulate(acc, i0, j0, c, dk, vs, m.D, m.dSt);
            accumulate(acc, i0, j0, c, dk, c, m.E, m.K);
            accumulate(acc, i0, j0, c, dk, vs, m.Xb, m.St);
          },
          [&](int i, int j, T x) { part_k[row_of(p, w, t0 + i) * p.dk + j] = x; });
    });
    // B6: dS_n = dS_{n+1} + s Q̂ᵀ dO − K_bᵀ X (after every reader of dS_{n+1}).
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, dk, vs,
          [&](T(&acc)[2][2], int i0, int j0) {
            T qd[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
            accumulate(qd, i0, j0, dk, vs, c, m.Qt, m.dO);
            for (int r = 0; r < 2; ++r)
              for (int q = 0; q < 2; ++q) acc[r][q] += scale * qd[r][q];
            accumulate(acc, i0, j0, dk, vs, c, m.KbT, m.X);
          },
          [&](int i, int j, T x) { s.dS[i * ldv + j] += x; });
    });
  }
  phase([&](int tid, int nt) { store_state(tid, nt, p, w, s.dS, a.ds0 + state_at); });
}

// The last pass, one call per row r of the B·T·H rows: adds the slices' shares of ∂L/∂Q̂,
// ∂L/∂K̂ and ∂L/∂β in slice order, and takes ∂L/∂Q̂ back through the ℓ2 normalisation
// (docs/math/kernels.md §7.1: dx = ρ (g − (y·g) y), y = ρ x) from the raw row x.
template <typename T>
HQLT_HD void finish_row(const Plan& p, int64_t r, const T* q, const T* k, const T* part_q, const T* part_k,
                        const T* part_beta, T* dq, T* dk, T* dbeta) {
  const int64_t d = p.dk, stride = p.rows() * d;
  T db = 0;
  for (int z = 0; z < p.slices; ++z) db += part_beta[z * p.rows() + r];
  dbeta[r] = db;
  for (int which = 0; which < 2; ++which) {
    const T* x = (which == 0 ? q : k) + r * d;
    const T* part = (which == 0 ? part_q : part_k) + r * d;
    T* out = (which == 0 ? dq : dk) + r * d;
    T rho = 1, yg = 0;
    if (p.l2) {
      T sum_sq = 0;
      for (int64_t j = 0; j < d; ++j) sum_sq += x[j] * x[j];
      rho = T(1) / std::sqrt(sum_sq + T(p.l2_eps));
    }
    for (int64_t j = 0; j < d; ++j) {
      T g = 0;
      for (int z = 0; z < p.slices; ++z) g += part[z * stride + j];
      out[j] = g;  // ∂L/∂ŷ for now
      yg += rho * x[j] * g;
    }
    if (p.l2)
      for (int64_t j = 0; j < d; ++j) out[j] = rho * (out[j] - yg * rho * x[j]);
  }
}

}  // namespace hqlt::detail::delta_blocks
