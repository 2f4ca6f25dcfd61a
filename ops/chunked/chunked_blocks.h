#pragma once
// What the chunked fused ops (ops/delta_rule, ops/hybrid_chunk, ops/linear_attention) share
// on the block side, the GPU algorithm written as host/device phases (see
// ops/delta_rule/delta_rule_blocks.h for the phase discipline): the problem's shape, the
// plan of one call (kernel chunk, d_v slices, padded leading dims) and its search, the
// carving of shared memory, and the 2×2 register-tile product.
// This folder is the shared base: it includes no op folder.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/host_device.h"
#include "engine/host_phases.h"
#include "ops/chunked/chunked_shape.h"

namespace hqlt::detail::chunked {

inline constexpr int kThreads = 256;  // threads per block
inline constexpr int kMaxChunk = 64;  // the kernel's chunk is at most this (and at most the op's chunk)

// Host stand-in for a thread block of kThreads: runs each phase thread by thread.
using HostPhases = hqlt::phases::HostPhases<kThreads>;

// How one call is cut: the kernel's chunk C (a power of two ≤ the op's chunk; the result is
// the same in exact arithmetic, only the rounding differs), Vs value columns per block, and
// the shared-memory layout that follows. l2, l2_eps: the delta rule's ℓ2 normalisation of
// Q̂ and K̂ (unused by linear attention).
struct Plan : ChunkedShape {
  int C = 0, Vs = 0;
  int slices = 0;   // ceil(d_v / Vs)
  int chunks = 0;   // ceil(T / C)
  bool l2 = false;
  double scale = 1;  // s = d_k^{-1/2}
  double l2_eps = 1e-6;

  HQLT_HD int ld_k() const { return int(dk) + 1; }
  HQLT_HD int ld_c() const { return C + 1; }
  HQLT_HD int ld_v() const { return Vs + 1; }
  HQLT_HD int64_t blocks() const { return B * H * slices; }
  HQLT_HD int chunk_rows(int n) const { return int(hd_min<int64_t>(C, T - int64_t(n) * C)); }
};

// The plan search every chunked op makes: the largest chunk C (from `largest`, halving, down
// to `smallest`), then the widest slice Vs (at most 64 columns, at least 8), for which
// fits(C, Vs) holds; {0, 0} when none does.
struct Cut {
  int C = 0, Vs = 0;
};

template <typename Fits>
Cut largest_cut(int64_t largest, int smallest, int64_t dv, const Fits& fits) {
  const int widest = int(std::min<int64_t>(64, std::max<int64_t>(8, dv)));
  for (int C = int(largest); C >= smallest; C /= 2)
    for (int Vs = widest; Vs >= 8; Vs = Vs > 8 ? std::max(8, Vs / 2) : 0)
      if (fits(C, Vs)) return {C, Vs};
  return {};
}

// Lays a block's tiles out one after another from `base`; with base null it only counts
// the words, so a layout's size is computed by the same code that carves it.
template <typename T>
struct SmemCarver {
  T* base;
  size_t words = 0;

  HQLT_HD T* operator()(size_t n) {
    T* ptr = base ? base + words : nullptr;
    words += n;
    return ptr;
  }
};

// The delta rule's shared-memory tiles of one block (the hybrid op's FW part carves them
// without P, dP: `intra` false).
template <typename T>
struct Tiles {
  T *q, *k, *beta;           // [C, d_k+1] Q̂, K̂ (normalised in place), [C] β
  T *G, *Tw, *P, *dP, *dA;   // [C, C+1]; P, dP only with `intra`, dP, dA only in the backward
  T *S, *dS;                 // [d_k, Vs+1]; dS only in the backward
  T *R, *D, *dO, *dD, *X;    // [C, Vs+1]; dO, dD, X only in the backward
  size_t words = 0;

  // Takes the tiles from `take`, which may go on carving after them.
  HQLT_HD static Tiles carve_with(SmemCarver<T>& take, const Plan& p, bool backward, bool intra) {
    Tiles t{};
    const size_t ck = size_t(p.C) * p.ld_k(), cc = size_t(p.C) * p.ld_c(), cv = size_t(p.C) * p.ld_v();
    const size_t kv = size_t(p.dk) * p.ld_v();
    t.q = take(ck), t.k = take(ck), t.beta = take(p.C);
    t.G = take(cc), t.Tw = take(cc);
    if (intra) t.P = take(cc);
    t.S = take(kv);
    t.R = take(cv), t.D = take(cv);
    if (backward) {
      if (intra) t.dP = take(cc);
      t.dA = take(cc);
      t.dS = take(kv);
      t.dO = take(cv), t.dD = take(cv), t.X = take(cv);
    }
    t.words = take.words;
    return t;
  }

  // The tiles laid out from `base` (or, with base null, only counted).
  HQLT_HD static Tiles carve(T* base, const Plan& p, bool backward) {
    SmemCarver<T> take{base};
    return carve_with(take, p, backward, true);
  }
};

// ---- tiles read as matrices --------------------------------------------------------------

// Element (i, j) of a row-major tile with leading dimension ld (Rows), of its transpose
// (Cols), or of either with row i (ScaledRows) or row j of the stored tile (ScaledCols)
// multiplied by Sign·scale[·] — the delta rule's diag(β) R, −diag(β) X and −K_bᵀ. The
// products name their operands with these instead of writing the indexing out each time.
template <typename T>
struct Rows {
  const T* at;
  int ld;
  HQLT_HD T operator()(int i, int j) const { return at[i * ld + j]; }
};
template <typename T>
struct Cols {
  const T* at;
  int ld;
  HQLT_HD T operator()(int i, int j) const { return at[j * ld + i]; }
};
template <typename T, int Sign>
struct ScaledRows {
  const T* scale;
  const T* at;
  int ld;
  HQLT_HD T operator()(int i, int j) const { return (Sign < 0 ? -scale[i] : scale[i]) * at[i * ld + j]; }
};
template <typename T, int Sign>
struct ScaledCols {
  const T* scale;
  const T* at;
  int ld;
  HQLT_HD T operator()(int i, int j) const { return (Sign < 0 ? -scale[j] : scale[j]) * at[j * ld + i]; }
};

// The delta rule's tiles as its products read them (the names of docs/math/kernels.md §2;
// a trailing t is the transpose). Views of tiles a layout leaves out (P, dP in the hybrid's
// FW part; the backward's tiles in the forward) hold null and are never read.
template <typename T>
struct TileViews {
  Rows<T> Q, K, S, dS, D, dO, dD, X, P, dP, E, Tw;  // E: the symmetrised dA
  Cols<T> Qt, Kt, St, dSt, Dt, Pt, dPt, Twt;
  ScaledRows<T, 1> Rb;    // diag(β) R
  ScaledRows<T, -1> Xb;   // −diag(β) X
  ScaledCols<T, -1> KbT;  // −K_bᵀ

  HQLT_HD static TileViews of(const Tiles<T>& s, const Plan& p) {
    const int ldk = p.ld_k(), ldc = p.ld_c(), ldv = p.ld_v();
    TileViews v{};
    v.Q = {s.q, ldk}, v.K = {s.k, ldk}, v.Qt = {s.q, ldk}, v.Kt = {s.k, ldk};
    v.S = {s.S, ldv}, v.St = {s.S, ldv}, v.dS = {s.dS, ldv}, v.dSt = {s.dS, ldv};
    v.D = {s.D, ldv}, v.Dt = {s.D, ldv}, v.dO = {s.dO, ldv}, v.dD = {s.dD, ldv}, v.X = {s.X, ldv};
    v.P = {s.P, ldc}, v.Pt = {s.P, ldc}, v.dP = {s.dP, ldc}, v.dPt = {s.dP, ldc};
    v.E = {s.dA, ldc}, v.Tw = {s.Tw, ldc}, v.Twt = {s.Tw, ldc};
    v.Rb = {s.beta, s.R, ldv}, v.Xb = {s.beta, s.X, ldv}, v.KbT = {s.beta, s.k, ldk};
    return v;
  }
};

// ---- products of tiles -----------------------------------------------------------------

// acc[r][c] += Σ_l a(i0+r, l) · b(l, j0+c) for l < K; rows and columns past m, n are
// clamped to the last one (read, then never stored), so the inner loop has no branches.
// This loop is the reference product of the blocks, and the one seam where a tensor-core
// (mma) path could go later: every tile product of the chunked ops passes here. Its
// operands are the views above (or any other (i, j) → value callable). On the host, which
// of these multiply-adds the compiler fuses into FMAs follows its inlining and vectorising
// of each call site, so a host run of the blocks agrees with the GPU's to rounding, not to
// the bit; the tests bound the difference.
template <typename T, typename A, typename Bm>
HQLT_HD void accumulate(T (&acc)[2][2], int i0, int j0, int m, int n, int K, const A& a, const Bm& b) {
  const int i1 = i0 + 1 < m ? i0 + 1 : i0, j1 = j0 + 1 < n ? j0 + 1 : j0;
  for (int l = 0; l < K; ++l) {
    const T a0 = a(i0, l), a1 = a(i1, l), b0 = b(l, j0), b1 = b(l, j1);
    acc[0][0] += a0 * b0, acc[0][1] += a0 * b1, acc[1][0] += a1 * b0, acc[1][1] += a1 * b1;
  }
}

// For every 2×2 tile of an [m, n] result owned by this thread: body(acc, i0, j0) sums into
// acc (one or more `accumulate` calls), then store(i, j, value) for each element in range.
template <typename T, typename Body, typename Store>
HQLT_HD void tile_product(int tid, int nthreads, int m, int n, const Body& body, const Store& store) {
  const int tiles_n = (n + 1) / 2, tiles = ((m + 1) / 2) * tiles_n;
  for (int t = tid; t < tiles; t += nthreads) {
    const int i0 = (t / tiles_n) * 2, j0 = (t % tiles_n) * 2;
    T acc[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
    body(acc, i0, j0);
    for (int r = 0; r < 2 && i0 + r < m; ++r)
      for (int c = 0; c < 2 && j0 + c < n; ++c) store(i0 + r, j0 + c, acc[r][c]);
  }
}

// ---- where a block works -------------------------------------------------------------

// Where block `block` works: the (batch, head) pair, its slice of d_v columns.
struct Where {
  int64_t b, h, head, col0;
  int vs;  // columns in this slice (Vs, or fewer in the last)
};

HQLT_HD inline Where where_of(const Plan& p, int64_t block) {
  Where w;
  const int64_t z = block % p.slices;
  w.head = block / p.slices;
  w.b = w.head / p.H, w.h = w.head % p.H;
  w.col0 = z * p.Vs;
  w.vs = int(hd_min<int64_t>(p.Vs, p.dv - w.col0));
  return w;
}

// Offset of row (b, t, h) in a [B, T, H, d] tensor, in rows.
HQLT_HD inline int64_t row_of(const Plan& p, const Where& w, int64_t t) { return (w.b * p.T + t) * p.H + w.h; }

// Phase: the block's slice of a [d_k, d_v] state between global memory and a [d_k, Vs+1]
// tile; a null source means zeros.
template <typename T>
HQLT_HD void load_state(int tid, int nt, const Plan& p, const Where& w, T* tile, const T* src) {
  const int ldv = p.ld_v();
  for (int e = tid; e < int(p.dk) * w.vs; e += nt) {
    const int i = e / w.vs, j = e % w.vs;
    tile[i * ldv + j] = src ? src[i * p.dv + w.col0 + j] : T(0);
  }
}
template <typename T>
HQLT_HD void store_state(int tid, int nt, const Plan& p, const Where& w, const T* tile, T* dst) {
  const int ldv = p.ld_v();
  for (int e = tid; e < int(p.dk) * w.vs; e += nt) {
    const int i = e / w.vs, j = e % w.vs;
    dst[i * p.dv + w.col0 + j] = tile[i * ldv + j];
  }
}

}  // namespace hqlt::detail::chunked
