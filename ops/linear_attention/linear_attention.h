#pragma once
// Causal linear attention with the elu+1 feature map: the FW-memory of the HQLT variant
// `sync_chunk_linear` (docs/math/models.md §5.6; algorithm and backward in docs/math/kernels.md
// §5). Per batch b and head h, with φ = elu1 (x+1 for x > 0, eˣ otherwise) applied inside the op
// to the raw q and k, and the read scale s = d_k^{-1/2}:
//
//   num_t = s · Σ_{j≤t} (φ(q_t)·φ(k_j)) v_j                          (∈ R^{d_v})
//   out_t = num_t / (z_t + eps)                                       (eps = 1e-10)
//
// The normaliser z_t has two forms, chosen by `normalizer`:
//   reference_heads (default, bug-compatible with the reference code and the checkpoints
//       trained with it, docs/math/models.md §5.6): the cumulative sum runs over the *head*
//       axis of the current token, z_{t,h} = s · φ(q_{t,h}) · Σ_{h'≤h} φ(k_{t,h'}). Heads
//       interact here, and only here.
//   time (the intended, standard linear attention): z_t = s · φ(q_t) · Σ_{j≤t} φ(k_j).
//
// linear_attention runs the chunkwise form of docs/math/kernels.md §5: inside a chunk of C
// tokens a masked C×C product, across chunks a d_k×d_v running state Z (Z_0 = 0; §5 defines
// no initial or final state for this op, so there is none). linear_attention_reference is
// the plain full-matrix form, (φ(Q)φ(K)ᵀ ⊙ M) V with a causal mask M, composed of recorded
// primitive ops (elu_plus_one, matmul, mul, sum, div, views), so autograd gives it an
// independent backward; it is O(T²) in memory and meant for tests and benchmarks. Both
// entries take the same arguments, so tests and benchmarks can swap one for the other.
// (The reference code divides in bf16; here every step runs in the input dtype.) In a CUDA
// build, cuda inputs run linear_attention.cu (linear_attention_cuda.h, NOTES.md).
//
//   q:          [B, T, H, d_k]   raw queries (before φ); any strides; f32 or f64
//   k:          [B, T, H, d_k]   raw keys (before φ); same dtype and device as q
//   v:          [B, T, H, d_v]   values
//   chunk_size: C, a power of two >= 1 (64 in the reference); the result does not depend
//               on it beyond rounding. The reference form checks it and ignores it.
//   normalizer: see above
//   eps:        added to z before the division, >= 0 (1e-10 in the reference)
//   ->          [B, T, H, d_v], contiguous, q's dtype
//
// d_k >= 1; B, T, H or d_v may be 0. Saved for backward (linear_attention): the raw q, k, v
// (contiguous; no copy when they already are), z [B, T, H], and the output itself (for the
// normaliser's gradient, dz = −rowsum(dO ⊙ O)/(z + eps); shared with the returned tensor, no
// copy). The backward recomputes φ and the chunk products; nothing T×T is stored.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

enum class LinearAttentionNormalizer {
  reference_heads,  // Σ over heads h' ≤ h of the current token's keys (the reference's bug)
  time,             // Σ over tokens j ≤ t of the keys (standard linear attention)
};

Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size = 64,
                        LinearAttentionNormalizer normalizer = LinearAttentionNormalizer::reference_heads,
                        double eps = 1e-10);

Tensor linear_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size = 64,
                                  LinearAttentionNormalizer normalizer = LinearAttentionNormalizer::reference_heads,
                                  double eps = 1e-10);

}  // namespace hqlt

// ---- The pieces behind the two entries (shared by linear_attention*.cpp) ------------------
namespace hqlt::linear_attention_detail {

// Sizes of one call. The kernels take contiguous token-major tensors: element (b, t, h, i)
// of a [B, T, H, d] tensor sits at ((b·T + t)·H + h)·d + i, z [B, T, H] at (b·T + t)·H + h.
struct Problem {
  int64_t batch, time, heads, dk, dv, chunk;
};

// Throws hqlt::Error naming `op` and the argument unless the arguments are as above.
void check_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size,
                     double eps);

// out [B, T, H, d_v] and z [B, T, H] from raw q, k and v (linear_attention_cpu.cpp).
template <typename T>
void forward_cpu(const T* q, const T* k, const T* v, T* out, T* z, const Problem& dims,
                 LinearAttentionNormalizer normalizer, T eps);

// dq, dk [B, T, H, d_k] and dv [B, T, H, d_v] (all overwritten) from the saved raw q, k, v,
// the normaliser z, the output and its gradient dout.
template <typename T>
void backward_cpu(const T* q, const T* k, const T* v, const T* z, const T* out, const T* dout, T* dq, T* dk, T* dv,
                  const Problem& dims, LinearAttentionNormalizer normalizer, T eps);

}  // namespace hqlt::linear_attention_detail
