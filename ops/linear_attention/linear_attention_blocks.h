#pragma once
// Chunked causal linear attention as the GPU runs it: one thread block per (batch, head,
// slice of d_v columns), written once as host/device code so that the very same algorithm
// runs in the CUDA kernels (linear_attention.cu) and, thread by thread, on the CPU in the
// tests (tests/ops/test_linear_attention_blocks.cpp). The math is the CPU kernel's
// (linear_attention_cpu.cpp, NOTES.md, docs/math/kernels.md §5); the cut of the work, the phase
// discipline and the tile products are the delta rule's (ops/delta_rule/delta_rule_blocks.h,
// and the shared pieces of ops/chunked/chunked_blocks.h, which this file uses).
//
// Why slices of d_v. With Φq = φ(q), Φk = φ(k) fixed, N = s (P V + Φq Z_n) and
// Z += Φkᵀ V mix the columns of V, Z and N only with themselves, so block z owns columns
// [z·Vs, z·Vs + Vs) of Z (in shared memory) and of V, O, dO, dV, and recomputes the chunk's
// [c, c] tiles on its own. The gradients of Φq and Φk sum over all columns; each block
// writes its slice's share ("partials") and finish_column adds them in slice order and
// applies φ' — deterministic, no atomics.
//
// The normaliser. Under `time`, z = s · rowsum(Φq Φkᵀ ⊙ M) over all tokens j ≤ t: as if V
// had one more column of ones. Slice 0 carries that column: the running key sum ks
// (forward), dz in G and the reverse key sum dks (backward). Every slice computes z itself
// (it divides by it), slice 0 writes it. Under `reference_heads` z couples the heads of one
// token, which no block sees whole: heads_z_row computes it before the blocks, and
// finish_column adds its gradient while it walks the heads of a token.
//
// Backward without per-chunk states (NOTES.md "The kernel's idea"): a forward sweep rebuilds
// Z_n for dΦq, a reverse sweep carries dZ_{n+1} for dΦk and dV; nothing of size
// (T/C)·d_k·d_v is stored.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/chunked/chunked_blocks.h"  // defines: Plan, HostPhases, tile_product, accumulate, Where

namespace hqlt::detail::linear_blocks {

using chunked::accumulate;
using chunked::Cols;
using chunked::HostPhases;
using chunked::kMaxChunk;
using chunked::kThreads;
using chunked::row_of;
using chunked::Rows;
using chunked::tile_product;
using chunked::Where;
using chunked::where_of;

// How one call is cut: the delta rule's plan (C, Vs, slices, chunks, s, the padded leading
// dims; its ℓ2 fields are unused) and the normaliser. slices >= 1 even when d_v = 0, so that
// the time normaliser's z is still written.
struct Plan : chunked::Plan {
  bool by_time = false;  // the time normaliser (else reference_heads, from heads_z_row)
  double eps = 1e-10;
};

// φ = elu + 1 (docs/math/kernels.md §7.3) and its slope from φ alone: φ' = 1 for x > 0, e^x = φ
// otherwise, and φ > 1 exactly when x > 0, so φ' = min(φ, 1).
template <typename T>
HQLT_HD T elu1(T x) {
  return x > T(0) ? x + T(1) : std::exp(x);
}
template <typename T>
HQLT_HD T elu1_slope(T phi) {
  return hd_min(phi, T(1));
}

// Shared-memory tiles of one block; `carve` lays them out from `base` (or, with base null,
// only counts the words).
template <typename T>
struct Tiles {
  T *q, *k;    // [C, d_k+1] Φq, Φk of the chunk
  T *V, *dN;   // [C, Vs+1] the slice of V, of dN = dO/(z+eps) (dN only in the backward)
  T *P, *G;    // [C, C+1] P = Φq Φkᵀ ⊙ M (scaled by s in the backward), G (backward)
  T* Z;        // [d_k, Vs+1] Z_n; dZ_{n+1} in the backward's reverse sweep
  T* ks;       // [d_k] Σ Φk over earlier chunks; dks = s Σ dz Φq over later ones (reverse sweep)
  T* zr;       // [C] the chunk's z (forward) or dz (backward)
  size_t words = 0;

  HQLT_HD static Tiles carve(T* base, const Plan& p, bool backward) {
    Tiles t{};
    chunked::SmemCarver<T> take{base};
    const size_t ck = size_t(p.C) * p.ld_k(), cc = size_t(p.C) * p.ld_c(), cv = size_t(p.C) * p.ld_v();
    t.q = take(ck), t.k = take(ck);
    t.V = take(cv), t.P = take(cc);
    t.Z = take(size_t(p.dk) * p.ld_v());
    t.ks = take(size_t(p.dk)), t.zr = take(size_t(p.C));
    t.dN = backward ? take(cv) : nullptr;
    t.G = backward ? take(cc) : nullptr;
    t.words = take.words;
    return t;
  }
};

// The largest chunk ≤ chunk_size (and ≤ kMaxChunk), then the widest slice (≤ 64 columns),
// whose tiles fit in `max_bytes` of shared memory per block; C = 0 when even C = 1, Vs = 8
// does not (d_k too large). The result does not depend on C beyond rounding.
inline Plan make_plan(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv, int64_t chunk_size, bool by_time,
                      double eps, size_t word_bytes, size_t max_bytes, bool backward) {
  Plan p;
  p.B = B, p.T = T, p.H = H, p.dk = dk, p.dv = dv, p.by_time = by_time, p.eps = eps;
  p.scale = 1.0 / std::sqrt(double(dk));
  const chunked::Cut cut = chunked::largest_cut(std::min<int64_t>(chunk_size, kMaxChunk), 1, dv, [&](int C, int Vs) {
    Plan t = p;
    t.C = C, t.Vs = Vs;
    return Tiles<char>::carve(nullptr, t, backward).words * word_bytes <= max_bytes;
  });
  if (cut.C == 0) return p;  // p.C == 0: does not fit
  p.C = cut.C, p.Vs = cut.Vs;
  p.slices = int(std::max<int64_t>(1, (dv + p.Vs - 1) / p.Vs));
  p.chunks = int((T + p.C - 1) / p.C);
  return p;
}

// ---- the per-row passes outside the blocks ----------------------------------------------

// reference_heads (docs/math/models.md §5.6): z of row r = (b, t, h) of the B·T·H rows,
// s · Φq_{t,h} · Σ_{h'≤h} Φk_{t,h'}. One call per row, so each sums its own prefix of heads.
template <typename T>
HQLT_HD T heads_z_row(const Plan& p, int64_t r, const T* q, const T* k) {
  const int64_t d = p.dk, h = r % p.H, r0 = r - h;
  T acc = 0;
  for (int64_t j = 0; j < d; ++j) {
    T key_sum = 0;
    for (int64_t hp = 0; hp <= h; ++hp) key_sum += elu1(k[(r0 + hp) * d + j]);
    acc += elu1(q[r * d + j]) * key_sum;
  }
  return T(p.scale) * acc;
}

// dz of row r: −(dO_r · O_r)/(z_r + eps), the gradient of the normaliser (NOTES.md "Backward").
template <typename T>
HQLT_HD T dz_row(const Plan& p, int64_t r, const T* out, const T* d_o, const T* z) {
  T acc = 0;
  for (int64_t j = 0; j < p.dv; ++j) acc += d_o[r * p.dv + j] * out[r * p.dv + j];
  return -acc / (z[r] + T(p.eps));
}

// The last pass, one call per (token bt = b·T + t, column j < d_k): walks the token's heads,
// adds the slices' shares of ∂L/∂Φq and ∂L/∂Φk in slice order, the reference_heads
// normaliser's terms (dΦq_h += s dz_h Σ_{h'≤h} Φk_{h'}, dΦk_h += s Σ_{h''≥h} dz_{h''} Φq_{h''};
// under `time` slice 0's share already holds them) and takes both through φ'.
template <typename T>
HQLT_HD void finish_column(const Plan& p, int64_t bt, int64_t j, const T* q, const T* k, const T* dz,
                           const T* part_q, const T* part_k, T* dq, T* dk) {
  const int64_t d = p.dk, stride = p.rows() * d, r0 = bt * p.H;
  const T s = T(p.scale);
  T sum = 0;
  for (int64_t h = 0; h < p.H; ++h) {
    const int64_t at = (r0 + h) * d + j;
    T g = 0;
    for (int z = 0; z < p.slices; ++z) g += part_q[z * stride + at];
    if (!p.by_time) {
      sum += elu1(k[at]);
      g += s * dz[r0 + h] * sum;
    }
    dq[at] = g * elu1_slope(elu1(q[at]));
  }
  sum = 0;
  for (int64_t h = p.H - 1; h >= 0; --h) {
    const int64_t at = (r0 + h) * d + j;
    T g = 0;
    for (int z = 0; z < p.slices; ++z) g += part_k[z * stride + at];
    if (!p.by_time) {
      sum += dz[r0 + h] * elu1(q[at]);
      g += s * sum;
    }
    dk[at] = g * elu1_slope(elu1(k[at]));
  }
}

// ---- the steps both passes share ------------------------------------------------------

// Phase: Φq, Φk of the chunk into the tiles (φ applied on the way); `cols(i, j)` loads
// further [c, vs] tiles (V, dN) and `rows(i)` per-row values in the same phase.
template <typename T, typename Cols, typename Rows>
HQLT_HD void load_chunk(int tid, int nt, const Plan& p, const Where& w, const Tiles<T>& s, int64_t t0, int c,
                        const T* q, const T* k, const Cols& cols, const Rows& rows) {
  const int dk = int(p.dk), ldk = p.ld_k();
  for (int e = tid; e < c * dk; e += nt) {
    const int i = e / dk, j = e % dk;
    const int64_t at = row_of(p, w, t0 + i) * p.dk + j;
    s.q[i * ldk + j] = elu1(q[at]);
    s.k[i * ldk + j] = elu1(k[at]);
  }
  for (int e = tid; e < c * w.vs; e += nt) cols(e / w.vs, e % w.vs);
  for (int i = tid; i < c; i += nt) rows(i);
}

// Phase: Z (or dZ) and ks (or dks) start at zero.
template <typename T>
HQLT_HD void clear_state(int tid, int nt, const Plan& p, const Where& w, const Tiles<T>& s) {
  const int ldv = p.ld_v();
  for (int e = tid; e < int(p.dk) * w.vs; e += nt) s.Z[(e / w.vs) * ldv + e % w.vs] = T(0);
  for (int j = tid; j < int(p.dk); j += nt) s.ks[j] = T(0);
}

// ---- forward -----------------------------------------------------------------------------

template <typename T>
struct ForwardArgs {
  const T *q, *k, *v;  // raw [B, T, H, d_k], [B, T, H, d_k], [B, T, H, d_v]
  T* out;              // [B, T, H, d_v]
  T* z;                // [B, T, H]: read (reference_heads, from heads_z_row) or written by slice 0 (time)
};

template <typename T, typename Phases>
HQLT_HD void forward_block(const ForwardArgs<T>& a, const Plan& p, T* smem, int64_t block, const Phases& phase) {
  const Where w = where_of(p, block);
  const Tiles<T> s = Tiles<T>::carve(smem, p, false);
  const int ldv = p.ld_v(), ldk = p.ld_k(), ldc = p.ld_c(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale), eps = T(p.eps);
  const bool writes_z = p.by_time && w.col0 == 0;
  // The tiles as the products read them (a trailing t: the transpose; Kt is Φkᵀ, [d_k, c]).
  const Rows<T> Q{s.q, ldk}, Zm{s.Z, ldv}, P{s.P, ldc}, V{s.V, ldv};
  const Cols<T> Kt{s.k, ldk};

  phase([&](int tid, int nt) { clear_state(tid, nt, p, w, s); });
  for (int n = 0; n < p.chunks; ++n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    phase([&](int tid, int nt) {
      load_chunk(
          tid, nt, p, w, s, t0, c, a.q, a.k,
          [&](int i, int j) { s.V[i * ldv + j] = a.v[row_of(p, w, t0 + i) * p.dv + w.col0 + j]; },
          [&](int i) {
            if (!p.by_time) s.zr[i] = a.z[row_of(p, w, t0 + i)];
          });
    });
    // P = Φq Φkᵀ ⊙ M.
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, Q, Kt); },
                      [&](int i, int j, T x) { s.P[i * ldc + j] = j <= i ? x : T(0); });
    });
    // Time normaliser: z_i = s (Σ_{j≤i} P_ij + Φq_i · ks), ks = Σ Φk over earlier chunks.
    if (p.by_time) {
      phase([&](int tid, int nt) {
        for (int i = tid; i < c; i += nt) {
          T acc = 0;
          for (int j = 0; j <= i; ++j) acc += s.P[i * ldc + j];
          for (int l = 0; l < dk; ++l) acc += s.q[i * ldk + l] * s.ks[l];
          s.zr[i] = scale * acc;
          if (writes_z) a.z[row_of(p, w, t0 + i)] = scale * acc;
        }
      });
    }
    // O = s (P V + Φq Z_n) / (z + eps), straight to global memory.
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, c, vs,
          [&](T(&acc)[2][2], int i0, int j0) {
            accumulate(acc, i0, j0, c, vs, c, P, V);
            accumulate(acc, i0, j0, c, vs, dk, Q, Zm);
          },
          [&](int i, int j, T x) {
            a.out[row_of(p, w, t0 + i) * p.dv + w.col0 + j] = scale * x / (s.zr[i] + eps);
          });
    });
    // Z_{n+1} = Z_n + Φkᵀ V and ks += Σ_i Φk_i (after the barrier: the output read Z_n, z read ks).
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, Kt, V); },
                      [&](int i, int j, T x) { s.Z[i * ldv + j] += x; });
      if (p.by_time)
        for (int j = tid; j < dk; j += nt) {
          T acc = 0;
          for (int i = 0; i < c; ++i) acc += s.k[i * ldk + j];
          s.ks[j] += acc;
        }
    });
  }
}

// ---- backward ------------------------------------------------------------------------------

template <typename T>
struct BackwardArgs {
  const T *q, *k, *v;  // the raw inputs, as in ForwardArgs
  const T *z, *dz;     // [B, T, H]: the normaliser and dz_row's gradient of it
  const T* d_o;        // [B, T, H, d_v]
  T* dv;               // [B, T, H, d_v]: complete per slice
  T *part_q, *part_k;  // [slices, B·T·H, d_k]: each slice's share of ∂L/∂Φq, ∂L/∂Φk
};

// Both sweeps over one block's chunks (NOTES.md "Backward"). With norm = slice 0 under the
// time normaliser: G = s (dN Vᵀ + norm·dz 1ᵀ) ⊙ M.
template <typename T, typename Phases>
HQLT_HD void backward_block(const BackwardArgs<T>& a, const Plan& p, T* smem, int64_t block, const Phases& phase) {
  const Where w = where_of(p, block);
  const Tiles<T> s = Tiles<T>::carve(smem, p, true);
  const int ldv = p.ld_v(), ldk = p.ld_k(), ldc = p.ld_c(), dk = int(p.dk), vs = w.vs;
  const T scale = T(p.scale), eps = T(p.eps);
  const bool norm = p.by_time && w.col0 == 0;
  T* part_q = a.part_q + (block % p.slices) * p.rows() * p.dk;
  T* part_k = a.part_k + (block % p.slices) * p.rows() * p.dk;

  // The tiles as the products read them (a trailing t: the transpose; Qt, Kt are Φqᵀ, Φkᵀ).
  const Rows<T> Q{s.q, ldk}, K{s.k, ldk}, V{s.V, ldv}, dN{s.dN, ldv}, Zm{s.Z, ldv}, G{s.G, ldc};
  const Cols<T> Qt{s.q, ldk}, Kt{s.k, ldk}, Vt{s.V, ldv}, Zt{s.Z, ldv}, Gt{s.G, ldc}, Pt{s.P, ldc};

  const auto load = [&](int64_t t0, int c) {
    phase([&](int tid, int nt) {
      load_chunk(
          tid, nt, p, w, s, t0, c, a.q, a.k,
          [&](int i, int j) {
            const int64_t r = row_of(p, w, t0 + i), at = r * p.dv + w.col0 + j;
            s.V[i * ldv + j] = a.v[at];
            s.dN[i * ldv + j] = a.d_o[at] / (a.z[r] + eps);
          },
          [&](int i) {
            if (norm) s.zr[i] = a.dz[row_of(p, w, t0 + i)];
          });
    });
  };
  // G = s (dN Vᵀ + norm·dz 1ᵀ) ⊙ M, inside a phase.
  const auto make_g = [&](int tid, int nt, int c) {
    tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, vs, dN, Vt); },
                    [&](int i, int j, T x) { s.G[i * ldc + j] = j <= i ? scale * (norm ? x + s.zr[i] : x) : T(0); });
  };

  // Forward sweep: Z_n and ks_n rebuilt chunk by chunk; this slice's share of dΦq.
  phase([&](int tid, int nt) { clear_state(tid, nt, p, w, s); });
  for (int n = 0; n < p.chunks; ++n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    load(t0, c);
    phase([&](int tid, int nt) { make_g(tid, nt, c); });
    // dΦq = G Φk + s dN Z_nᵀ + norm·s dz ksᵀ.
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, c, dk,
          [&](T(&acc)[2][2], int i0, int j0) {
            T nz[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
            accumulate(nz, i0, j0, c, dk, vs, dN, Zt);
            for (int r = 0; r < 2; ++r)
              for (int q = 0; q < 2; ++q) acc[r][q] += scale * nz[r][q];
            accumulate(acc, i0, j0, c, dk, c, G, K);
          },
          [&](int i, int j, T x) {
            part_q[row_of(p, w, t0 + i) * p.dk + j] = norm ? x + scale * s.zr[i] * s.ks[j] : x;
          });
    });
    // Z_{n+1} = Z_n + Φkᵀ V, ks += Σ_i Φk_i.
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, Kt, V); },
                      [&](int i, int j, T x) { s.Z[i * ldv + j] += x; });
      if (norm)
        for (int j = tid; j < dk; j += nt) {
          T acc = 0;
          for (int i = 0; i < c; ++i) acc += s.k[i * ldk + j];
          s.ks[j] += acc;
        }
    });
  }

  // Reverse sweep: dZ_{n+1} and dks carried from the end; dΦk's share and dV.
  phase([&](int tid, int nt) { clear_state(tid, nt, p, w, s); });
  for (int n = p.chunks - 1; n >= 0; --n) {
    const int64_t t0 = int64_t(n) * p.C;
    const int c = p.chunk_rows(n);
    load(t0, c);
    // G again, and P = s (Φq Φkᵀ) ⊙ M.
    phase([&](int tid, int nt) {
      make_g(tid, nt, c);
      tile_product<T>(tid, nt, c, c, [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, c, c, dk, Q, Kt); },
                      [&](int i, int j, T x) { s.P[i * ldc + j] = j <= i ? scale * x : T(0); });
    });
    // dΦk = Gᵀ Φq + V dZᵀ + norm·1 dksᵀ;  dV = Pᵀ dN + Φk dZ, complete for this slice.
    phase([&](int tid, int nt) {
      tile_product<T>(
          tid, nt, c, dk,
          [&](T(&acc)[2][2], int i0, int j0) {
            accumulate(acc, i0, j0, c, dk, c, Gt, Q);
            accumulate(acc, i0, j0, c, dk, vs, V, Zt);
          },
          [&](int i, int j, T x) { part_k[row_of(p, w, t0 + i) * p.dk + j] = norm ? x + s.ks[j] : x; });
      tile_product<T>(
          tid, nt, c, vs,
          [&](T(&acc)[2][2], int i0, int j0) {
            accumulate(acc, i0, j0, c, vs, c, Pt, dN);
            accumulate(acc, i0, j0, c, vs, dk, K, Zm);
          },
          [&](int i, int j, T x) { a.dv[row_of(p, w, t0 + i) * p.dv + w.col0 + j] = x; });
    });
    // dZ_n = dZ_{n+1} + s Φqᵀ dN, dks += s Σ_i dz_i Φq_i (after every reader of dZ_{n+1}).
    phase([&](int tid, int nt) {
      tile_product<T>(tid, nt, dk, vs,
                      [&](T(&acc)[2][2], int i0, int j0) { accumulate(acc, i0, j0, dk, vs, c, Qt, dN); },
                      [&](int i, int j, T x) { s.Z[i * ldv + j] += scale * x; });
      if (norm)
        for (int j = tid; j < dk; j += nt) {
          T acc = 0;
          for (int i = 0; i < c; ++i) acc += s.zr[i] * s.q[i * ldk + j];
          s.ks[j] += scale * acc;
        }
    });
  }
}

}  // namespace hqlt::detail::linear_blocks
