#pragma once
// The delta rule's CPU kernels for fewer (batch, head) pairs than threads (NOTES.md, "Fewer
// pairs than threads").
//
// One pair per thread would leave threads idle, so the phases of the per-pair kernels run
// as separate parallel loops: what needs no state (chunk_local; the backward's
// chunk_gradients) per (pair, chunk), the recurrences over chunks (forward_step,
// backward_step) per (pair, block of d_v columns). Each product is the per-pair kernel's
// product or a column slice of it, so the bits are the same for any thread count; the price
// is memory for every chunk's matrices, O(T (C + d)) per pair.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "engine/parallel.h"
#include "ops/delta_rule/delta_rule_chunk_cpu.h"

namespace hqlt::detail::delta_rule_cpu {

inline bool few_pairs(const Problem& g) {
  return !in_parallel_region() && g.heads() < omp_get_max_threads() &&
         should_parallelize(g.heads() * g.T * g.C * (g.dk + g.dv));
}

// Column blocks of d_v for the recurrences: enough for every thread, at least 8 columns wide.
struct ColumnBlocks {
  int64_t count, width;
  Columns at(int64_t i, int64_t dv) const { return {i * width, std::min(width, dv - i * width)}; }
};

inline ColumnBlocks column_blocks(const Problem& g) {
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
  T *R, *D, *dO, *dD;    // [C, d_v]
  T *S;                  // [d_k, d_v] running state or ∂L/∂S

  static SplitScratch carve(Arena<T>& a, const Problem& g) {
    SplitScratch w;
    w.rows = ChunkRows<T>::carve(a, g);
    w.tiles = GradTiles<T>::carve(a, g);
    w.R = a.take(g.C * g.dv), w.D = a.take(g.C * g.dv), w.dO = a.take(g.C * g.dv), w.dD = a.take(g.C * g.dv);
    w.S = a.take(g.dk * g.dv);
    return w;
  }
};

// Every pair's saved matrices for the split loops.
template <typename T>
struct PairStore {
  T *G, *Tw, *P;    // [N, C, C] per pair
  T *S, *dS_next;   // [N, d_k, d_v] per pair (backward only)
  T *D, *X;         // [N·C, d_v] per pair (backward only)

  static PairStore carve(Arena<T>& a, const Problem& g, bool backward) {
    const int64_t pairs = g.heads(), N = g.chunks, C = g.C, dk = g.dk, dv = g.dv;
    PairStore p{};
    p.G = a.take(pairs * N * C * C), p.Tw = a.take(pairs * N * C * C), p.P = a.take(pairs * N * C * C);
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

// Every chunk's G, Tw and P, one (pair, chunk) per item.
template <typename T, typename InputsOf>
void all_chunk_locals(const Problem& g, const SplitWorkspace<T>& ws, InputsOf inputs_of) {
  const PairStore<T>& st = ws.store;
  const int64_t N = g.chunks;
  split_loop<T>(g.heads() * N, ws.scratch, ws.per_thread, g, [&](int64_t item, const SplitScratch<T>& w) {
    const int64_t pair = item / N, n = item % N, c = g.chunk_rows(n);
    load_chunk(w.rows, inputs_of(pair), g, n * g.C, c);
    chunk_local(w.rows, c, g, st.G + st.cc(g, pair, n), st.Tw + st.cc(g, pair, n), st.P + st.cc(g, pair, n));
  });
}

template <typename T, typename InputsOf>
void forward_few_pairs(const Problem& g, DType dtype, InputsOf inputs_of, const T* s0, T* o, T* s_fin) {
  SplitWorkspace<T> ws(g, dtype, /*backward=*/false);
  const PairStore<T>& st = ws.store;
  const int64_t pairs = g.heads(), N = g.chunks, state = g.dk * g.dv;
  all_chunk_locals(g, ws, inputs_of);
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
  all_chunk_locals(g, ws, inputs_of);
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

}  // namespace hqlt::detail::delta_rule_cpu
