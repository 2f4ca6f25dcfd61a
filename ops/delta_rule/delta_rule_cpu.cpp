// The chunkwise delta rule on the CPU: forward (docs/math/kernels.md §2.2) and hand-written
// backward (§2.3), one (batch, head) pair per OpenMP task, built from the chunk pieces of
// delta_rule_chunk_cpu.h. Inside a task every product is a small GEMM on [C, d] or [C, C]
// tiles (hqlt::gemm::gemm runs single-threaded inside the parallel loop), so the only
// sequential work over the sequence is the d_k×d_v state update per chunk. With fewer
// pairs than threads the work is cut by chunks and columns instead
// (delta_rule_few_pairs_cpu.h). The derivation is in NOTES.md.
#include <omp.h>

#include <algorithm>

#include "engine/parallel.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/delta_rule/delta_rule_chunk_cpu.h"
#include "ops/delta_rule/delta_rule_few_pairs_cpu.h"

namespace hqlt::detail {
namespace delta_rule_cpu {
namespace {

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

}  // namespace
}  // namespace delta_rule_cpu

using namespace delta_rule_cpu;

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
