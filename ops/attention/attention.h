#pragma once
// Softmax attention, tiled with an online softmax (docs/math/kernels.md §3, FlashAttention-2
// scheme), with an optional causal mask, sliding window and KV-cache offset.
//
// Per batch b and head h, with scale s (usually d_k^{-1/2}) and p_i = query_offset + i the
// absolute position of query row i:
//
//   o_i = Σ_{j ∈ N(i)} softmax_j( s · q_i·k_j ) v_j
//
//   N(i) = { 0 .. Tk-1 }                         causal = false (window must be -1)
//   N(i) = { j : j ≤ p_i }                        causal, window = -1   (docs/math/models.md §3)
//   N(i) = { j : p_i − W + 1 ≤ j ≤ p_i }          causal, window = W ≥ 1 (W keys incl. self;
//                                                 the SWA_C of docs/math/models.md §5.2 has W = C)
//
// query_offset = n says a KV cache of n tokens precedes the queries: the keys hold the
// cache and then the queries' own tokens, so a call on the last Tq rows with offset
// Tk − Tq gives the rows a full-length call would give. Causal calls need
// query_offset + Tq ≤ Tk: then key p_i exists for every query, every N(i) holds at least
// that key, and no row is ever empty (with query_offset ≥ 0 an empty row cannot happen).
// A non-causal call sees every key and ignores query_offset; it needs Tk ≥ 1 when there
// are query rows. docs/math/kernels.md §3 defines a window only for causal attention, so a
// window without `causal` is an error. Grouped-query attention: k and v may have fewer
// heads H_kv (dividing H); query head h then reads kv head h / (H / H_kv), and the
// gradients of a kv head sum over its H / H_kv query heads — no repeated copy of k and v is
// ever made on the CPU (the GPU kernel repeats them inside the op for now).
//
//   q   [B, Tq, H, d_k]     any strides, f32 or f64 (k and v of the same dtype and device)
//   k   [B, Tk, H_kv, d_k]  H_kv divides H (H_kv = H: multi-head attention)
//   v   [B, Tk, H_kv, d_v]  d_v may differ from d_k
//   out [B, Tq, H, d_v]     contiguous
//
// The fused op never forms a T × T matrix: the forward keeps a running row maximum m,
// row sum ℓ and output accumulator per query tile while it walks the key tiles, and
// saves only the output O and the log-sum-exp LSE_i = m_i + log ℓ_i ([B, H, Tq], in the
// input dtype). Key tiles outside the causal/window band are skipped, not masked
// (docs/math/kernels.md §3.3). The backward (§3.2) recomputes P = exp(s·QKᵀ − LSE) tile by tile and
// uses Dl_i = Σ_d dO_{i,d} O_{i,d}:
//   dV += Pᵀ dO,  dS = P ⊙ (dO Vᵀ − Dl),  dQ += s·dS K,  dK += s·dSᵀ Q.
// Saved for backward: q, k, v (contiguous copies only when the inputs were not
// contiguous), O and LSE. Memory O(B·T·H·d) plus a few tiles per thread.
//
// attention_reference has the same signature and layout and builds the full [B, H, Tq, Tk]
// score matrix from recorded primitives (matmul, masked_fill, softmax), so autograd gives
// it an independent backward: it is the oracle for tests and the baseline for benchmarks.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window, double scale,
                 int64_t query_offset = 0);

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window,
                           double scale, int64_t query_offset = 0);

// ---- Pieces shared by the entry points, the kernels and the tests -------------------
namespace attention_detail {

// Tile sizes of the fused kernel: query rows × key rows per score tile. 64 × 64 keeps the
// score tile and the operands in L1/L2 and gives the GEMM full register tiles; tests use
// small tiles to exercise the skipping rules on short sequences.
struct Tiles {
  int64_t query_rows = 64;
  int64_t key_rows = 64;
};

// The problem one call solves: sizes, options and the visibility band.
struct Problem {
  int64_t batch = 0, q_len = 0, k_len = 0, heads = 0, d_k = 0, d_v = 0;
  int64_t kv_heads = 0;  // H_kv, dividing heads (0: as many as heads); query head h reads
                         // kv head h / G with G = H / H_kv
  int64_t kv_head_count() const { return kv_heads > 0 ? kv_heads : heads; }
  int64_t groups() const { return heads / kv_head_count(); }
  bool causal = false;
  int64_t window = -1;  // -1: none
  double scale = 1.0;
  int64_t query_offset = 0;
  Tiles tiles;

  // The visible keys of query row i are the contiguous range [first_key(i), last_key(i)];
  // both ends are non-decreasing in i, which is what makes whole tiles skippable.
  int64_t first_key(int64_t i) const {
    if (!causal || window < 0) return 0;
    const int64_t j = query_offset + i - window + 1;
    return j > 0 ? j : 0;
  }
  int64_t last_key(int64_t i) const { return causal ? query_offset + i : k_len - 1; }
  // The query rows that see key j: [first_query(j), last_query(j)] (may be empty).
  int64_t first_query(int64_t j) const {
    if (!causal) return 0;
    const int64_t i = j - query_offset;
    return i > 0 ? i : 0;
  }
  int64_t last_query(int64_t j) const {
    if (!causal || window < 0) return q_len - 1;
    const int64_t i = j + window - 1 - query_offset;
    return i < q_len - 1 ? i : q_len - 1;
  }
};

// Throws hqlt::Error naming `op` unless the arguments describe a valid call (see above).
void check_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                     int64_t window, double scale, int64_t query_offset);

// Grouped-query attention spelled out: [B, T, H_kv, d] -> [B, T, H_kv·G, d], kv head j
// becoming heads j·G .. j·G+G-1 (a recorded expand: its backward sums the copies). The
// reference reads it; the GPU kernel, which takes one kv head per query head, too.
Tensor repeat_kv_heads(const Tensor& x, int64_t groups);

// attention() with chosen tile sizes (any sizes ≥ 1); attention() uses Tiles{}.
Tensor attention_tiled(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window,
                       double scale, int64_t query_offset, Tiles tiles);

// The CPU kernels (attention_cpu.cpp). All tensors contiguous, in the layouts above.
//   forward:  writes out [B, Tq, H, d_v] and lse [B, H, Tq]
//   backward: writes dq, dk, dv (shapes of q, k, v) from dout [B, Tq, H, d_v]
void forward_cpu(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                 const Tensor& lse);
void backward_cpu(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                  const Tensor& lse, const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv);

}  // namespace attention_detail
}  // namespace hqlt
