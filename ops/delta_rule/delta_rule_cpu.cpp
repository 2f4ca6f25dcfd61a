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

// The WY part of one chunk, given the state S_n before it (§2.1):
//   G = K̂ K̂ᵀ,  Tw = (I + L(diag(β) G))⁻¹,  Δ = Tw (V_b − K_b S_n)
// Δ = U − W S_n of §2.1 with the product by Tw taken last, which saves the two
// [c, d] products W = Tw K_b and U = Tw V_b. `R` is a [C, d_v] scratch tile.
template <typename T>
void chunk_delta(const ChunkRows<T>& r, int64_t c, const Problem& g, const T* S, T* G, T* Tw, T* R, T* D) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv;
  gemm<T>(false, true, c, c, dk, T(1), r.k, dk, r.k, dk, T(0), G, C);
  wy_inverse(Tw, G, r.b, c, C);
  std::copy(r.v, r.v + c * dv, R);
  gemm<T>(false, false, c, dv, dk, T(-1), r.k, dk, S, dv, T(1), R, dv);  // V − K̂ S_n
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < dv; ++j) R[i * dv + j] *= r.b[i];
  gemm<T>(false, false, c, dv, c, T(1), Tw, C, R, dv, T(0), D, dv);
}

// S_{n+1} = S_n + K̂ᵀ Δ  (F7)
template <typename T>
void update_state(T* S, const ChunkRows<T>& r, const T* D, int64_t c, const Problem& g) {
  gemm<T>(true, false, g.dk, g.dv, c, T(1), r.k, g.dk, D, g.dv, T(1), S, g.dv);
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

// One (batch, head) pair: o = [B, T, H, d_v] at (b, 0, h); s0, s_fin its [d_k, d_v] states.
template <typename T>
void forward_head(const HeadInputs<T>& in, const T* s0, T* o, T* s_fin, const Problem& g,
                  const ForwardScratch<T>& w) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv, ldo = g.H * dv;
  const T s = T(g.scale);
  const ChunkRows<T>& r = w.rows;
  if (s0)
    std::copy(s0, s0 + dk * dv, w.S);
  else
    std::fill(w.S, w.S + dk * dv, T(0));
  for (int64_t n = 0; n < g.chunks; ++n) {
    const int64_t t0 = n * C, c = g.chunk_rows(n);
    load_chunk(r, in, g, t0, c);
    chunk_delta(r, c, g, w.S, w.G, w.Tw, w.R, w.D);
    // F8: O = s (Q̂ S_n + P Δ), written straight into the output rows.
    T* o_rows = o + t0 * ldo;
    gemm<T>(false, false, c, dv, dk, s, r.q, dk, w.S, dv, T(0), o_rows, ldo);
    gemm<T>(false, true, c, c, dk, T(1), r.q, dk, r.k, dk, T(0), w.P, C);
    keep_lower_with_diagonal(w.P, c, C);
    gemm<T>(false, false, c, dv, c, s, w.P, C, w.D, dv, T(1), o_rows, ldo);
    update_state(w.S, r, w.D, c, g);
  }
  std::copy(w.S, w.S + dk * dv, s_fin);
}

// ---- backward -----------------------------------------------------------------------

template <typename T>
struct BackwardScratch {
  ChunkRows<T> rows;
  // Saved by the recompute pass, per chunk n: S_n, G_n, Tw_n, Δ_n.
  T *S_all, *G_all, *Tw_all, *D_all;  // [N, d_k, d_v], [N, C, C], [N, C, C], [N·C, d_v]
  T *S, *dS;                          // [d_k, d_v] running state and running ∂L/∂S
  T *R, *dO, *dD, *X;                 // [C, d_v]
  T *P, *dP, *dA;                     // [C, C]
  T *dQ, *dK, *dKb;                   // [C, d_k]

  static BackwardScratch carve(Arena<T>& a, const Problem& g) {
    BackwardScratch w;
    const int64_t C = g.C, N = g.chunks, dk = g.dk, dv = g.dv;
    w.rows = ChunkRows<T>::carve(a, g);
    w.S_all = a.take(N * dk * dv), w.G_all = a.take(N * C * C), w.Tw_all = a.take(N * C * C);
    w.D_all = a.take(N * C * dv);
    w.S = a.take(dk * dv), w.dS = a.take(dk * dv);
    w.R = a.take(C * dv), w.dO = a.take(C * dv), w.dD = a.take(C * dv), w.X = a.take(C * dv);
    w.P = a.take(C * C), w.dP = a.take(C * C), w.dA = a.take(C * C);
    w.dQ = a.take(C * dk), w.dK = a.take(C * dk), w.dKb = a.take(C * dk);
    return w;
  }
};

// Where one pair's gradients go: rows of the [B, T, H, d] outputs at (b, 0, h), its β
// gradients at (b, 0, h) of [B, T, H], and its [d_k, d_v] initial-state gradient.
template <typename T>
struct HeadGrads {
  T *dq, *dk, *dv, *dbeta, *ds0;
};

// One (batch, head) pair. d_o (rows at (b, 0, h)) and d_fin may be null: zero gradient.
template <typename T>
void backward_head(const HeadInputs<T>& in, const T* s0, const T* d_o, const T* d_fin, const HeadGrads<T>& out,
                   const Problem& g, const BackwardScratch<T>& w) {
  const int64_t C = g.C, dk = g.dk, dv = g.dv;
  const T s = T(g.scale);
  const ChunkRows<T>& r = w.rows;

  // Pass 1, forward over chunks: recompute and keep S_n, G_n, Tw_n, Δ_n (§2.3 "recompute").
  if (s0)
    std::copy(s0, s0 + dk * dv, w.S);
  else
    std::fill(w.S, w.S + dk * dv, T(0));
  for (int64_t n = 0; n < g.chunks; ++n) {
    const int64_t t0 = n * C, c = g.chunk_rows(n);
    T* D = w.D_all + t0 * dv;
    load_chunk(r, in, g, t0, c);
    std::copy(w.S, w.S + dk * dv, w.S_all + n * dk * dv);
    chunk_delta(r, c, g, w.S, w.G_all + n * C * C, w.Tw_all + n * C * C, w.R, D);
    update_state(w.S, r, D, c, g);
  }

  // Pass 2, backward over chunks, carrying dS = ∂L/∂S_{n+1} (B1–B13, in the forms of NOTES.md).
  if (d_fin)
    std::copy(d_fin, d_fin + dk * dv, w.dS);
  else
    std::fill(w.dS, w.dS + dk * dv, T(0));
  for (int64_t n = g.chunks - 1; n >= 0; --n) {
    const int64_t t0 = n * C, c = g.chunk_rows(n);
    const T *S = w.S_all + n * dk * dv, *G = w.G_all + n * C * C, *Tw = w.Tw_all + n * C * C;
    const T* D = w.D_all + t0 * dv;
    load_chunk(r, in, g, t0, c);
    for (int64_t i = 0; i < c; ++i) {
      T* dst = w.dO + i * dv;
      if (d_o)
        std::copy(d_o + (t0 + i) * g.H * dv, d_o + (t0 + i) * g.H * dv + dv, dst);
      else
        std::fill(dst, dst + dv, T(0));
    }

    // B1, B2: P = (Q̂ K̂ᵀ) ⊙ M,  dP = s (dO Δᵀ) ⊙ M
    gemm<T>(false, true, c, c, dk, T(1), r.q, dk, r.k, dk, T(0), w.P, C);
    keep_lower_with_diagonal(w.P, c, C);
    gemm<T>(false, true, c, c, dv, s, w.dO, dv, D, dv, T(0), w.dP, C);
    keep_lower_with_diagonal(w.dP, c, C);
    // B3: dQ̂ = s dO S_nᵀ + dP K̂
    gemm<T>(false, true, c, dk, dv, s, w.dO, dv, S, dv, T(0), w.dQ, dk);
    gemm<T>(false, false, c, dk, c, T(1), w.dP, C, r.k, dk, T(1), w.dQ, dk);
    // B5: dΔ = s Pᵀ dO + K̂ dS_{n+1}
    gemm<T>(true, false, c, dv, c, s, w.P, C, w.dO, dv, T(0), w.dD, dv);
    gemm<T>(false, false, c, dv, dk, T(1), r.k, dk, w.dS, dv, T(1), w.dD, dv);
    // B7–B8: X = Twᵀ dΔ is dV_b, and dK_b = −X S_nᵀ.
    gemm<T>(true, false, c, dv, c, T(1), Tw, C, w.dD, dv, T(0), w.X, dv);
    gemm<T>(false, true, c, dk, dv, T(-1), w.X, dv, S, dv, T(0), w.dKb, dk);
    // B9–B10: dA = L(−X Δᵀ)
    gemm<T>(false, true, c, c, dv, T(-1), w.X, dv, D, dv, T(0), w.dA, C);
    // B13: dβ = rowsum(dK_b ⊙ K̂) + rowsum(X ⊙ V) + rowsum(dA ⊙ G)
    for (int64_t i = 0; i < c; ++i) {
      T db = 0;
      for (int64_t j = 0; j < dk; ++j) db += w.dKb[i * dk + j] * r.k[i * dk + j];
      for (int64_t j = 0; j < dv; ++j) db += w.X[i * dv + j] * r.v[i * dv + j];
      for (int64_t j = 0; j < i; ++j) db += w.dA[i * C + j] * G[i * C + j];
      out.dbeta[(t0 + i) * g.H] = db;
    }
    // E = diag(β) dA + (diag(β) dA)ᵀ, built in place over dA (its upper part is unused).
    T* E = w.dA;
    chunked::symmetrise_scaled(E, r.b, c, C);
    // B4 + B11: dK̂ = dPᵀ Q̂ + Δ dS_{n+1}ᵀ + E K̂ + diag(β) dK_b
    gemm<T>(true, false, c, dk, c, T(1), w.dP, C, r.q, dk, T(0), w.dK, dk);
    gemm<T>(false, true, c, dk, dv, T(1), D, dv, w.dS, dv, T(1), w.dK, dk);
    gemm<T>(false, false, c, dk, c, T(1), E, C, r.k, dk, T(1), w.dK, dk);
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < dk; ++j) w.dK[i * dk + j] += r.b[i] * w.dKb[i * dk + j];
    // B6: dS_n = dS_{n+1} + s Q̂ᵀ dO − K_bᵀ X   (Wᵀ dΔ = K_bᵀ Twᵀ dΔ = K_bᵀ X)
    gemm<T>(true, false, dk, dv, c, s, r.q, dk, w.dO, dv, T(1), w.dS, dv);
    gemm<T>(true, false, dk, dv, c, T(-1), r.kb, dk, w.X, dv, T(1), w.dS, dv);

    // Store: dq, dk through the ℓ2 backward; B12: dv = diag(β) X.
    for (int64_t i = 0; i < c; ++i) {
      const int64_t t = t0 + i;
      store_row_grad(out.dq + t * in.k_stride, w.dQ + i * dk, r.q + i * dk, r.rq[i], dk, g.l2);
      store_row_grad(out.dk + t * in.k_stride, w.dK + i * dk, r.k + i * dk, r.rk[i], dk, g.l2);
      T* dv_row = out.dv + t * in.v_stride;
      for (int64_t j = 0; j < dv; ++j) dv_row[j] = r.b[i] * w.X[i * dv + j];
    }
  }
  std::copy(w.dS, w.dS + dk * dv, out.ds0);
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
    for_each_head<T, BackwardScratch<T>>(g, q.dtype(), [&](int64_t head, const BackwardScratch<T>& w) {
      const int64_t b = head / g.H, h = head % g.H;
      const HeadInputs<T> in = head_inputs(g, b, h, pq, pk, pv, pb);
      const int64_t row_k = (b * g.T * g.H + h) * g.dk, row_v = (b * g.T * g.H + h) * g.dv;
      using chunked::advance;
      const HeadGrads<T> out{advance(dq, row_k), advance(dk, row_k), advance(dv, row_v),
                             advance(db, b * g.T * g.H + h), ds0 + head * state};
      backward_head(in, ps0 ? ps0 + head * state : nullptr, pdo ? pdo + row_v : nullptr,
                    pdfin ? pdfin + head * state : nullptr, out, g, w);
    });
  });
  return grads;
}

}  // namespace hqlt::detail
