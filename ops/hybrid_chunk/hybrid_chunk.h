#pragma once
// The Delayed-Chunk hybrid token mixer in one op (docs/math/models.md §5.5, docs/math/kernels.md
// §4): a read-only fast-weight (FW) memory over all earlier FW blocks and a softmax-attention (KV)
// memory over the current attention chunk, sharing the values v.
//
// Per batch b and head h, with scale s (d_k^{-1/2} unless given) and the two block lengths
// C_kv = chunk_size, C_fw = fw_block_size:
//
//   q̂_t, k̂_t = ℓ2(q_fw_t), ℓ2(k_fw_t)   when l2norm_qk (ℓ2(x) = x / sqrt(Σ x² + 1e-6),
//                docs/math/models.md §1.3; the caller has already applied the SiLU), else as given
//   S         = the delta-rule state of docs/math/models.md §4.2 on (k̂, v, β), starting at the
//               initial state: δ_t = β_t (v_t − Sᵀ k̂_t),  S ← S + k̂_t δ_tᵀ
//   P_m       = S after tokens 0..m-1 (P_0 = initial state)
//   o_fw_t    = s · P_{F(t)}ᵀ q̂_t,   F(t) = C_fw · floor(t / C_fw)
//               (the state at the start of t's FW block: NO term from t's own block)
//   o_kv_t    = Σ_{j = c(t)..t} softmax_j(s · q_kv_t · k_kv_j) v_j,   c(t) = C_kv · floor(t / C_kv)
//               (causal softmax attention inside t's attention chunk only,
//               docs/math/models.md §5.2 CA_C)
//   final_state = S after all T tokens
//
// The reference code hard-wires the FW block to 64 whatever chunk_size is (the quirk of
// docs/math/models.md §5.5): pass fw_block_size = 64 to match it, or fw_block_size = chunk_size for
// the paper's definition (the two agree for chunk_size = 64, every LM config).
//
//   q_fw, k_fw:    [B, T, H, d_k]  FW query/key after the layer's SiLU; any strides; f32 or f64
//   q_kv, k_kv:    [B, T, H, d_k]  KV query/key (raw, or RoPE'd by the caller)
//   v:             [B, T, H, d_v]  values, shared by both memories
//   beta:          [B, T, H]       write strengths, in (0, 2) for HQLT
//   initial_state: [B, H, d_k, d_v], or undefined (Tensor()) for zeros
//   chunk_size:    C_kv ≥ 1 (on the GPU a power of two in [8, 128])
//   fw_block_size: C_fw ≥ 1 (on the GPU a power of two in [8, 128]; 64: reference-exact)
//   scale:         s; 0 means d_k^{-1/2}; must be finite
//   o_fw, o_kv:    [B, T, H, d_v]  contiguous, same dtype as q_fw
//   final_state:   [B, H, d_k, d_v] contiguous
// All tensors share one dtype and one device: the CPU, or cuda in a CUDA build
// (hybrid_chunk.cu, hybrid_chunk_cuda.h). T may be 0 (final_state = initial state).
//
// hybrid_chunk runs the fused CPU kernel (hybrid_chunk_cpu.cpp, idea in NOTES.md): the FW
// part with the chunkwise UT/WY delta rule over FW blocks (docs/math/kernels.md §2.2 F1–F7, read
// O_fw = s Q̂_n S_n), the KV part one C_kv×C_kv score tile per attention chunk, so no T×T
// matrix is ever formed. Every output is differentiable with respect to all seven inputs
// (an output that received no gradient counts as zero); the backward is docs/math/kernels.md §4.2.
// Saved for backward: the inputs q_fw, k_fw, q_kv, k_kv, v, beta and the initial state
// (contiguous copies only when an input was not contiguous) and the attention's log-sum-exp
// LSE [B, H, T]. The ℓ2 norms, the WY matrices, the block states S_n and the attention
// probabilities are recomputed.
//
// hybrid_chunk_reference computes the same from the definition with recorded primitive ops
// (a token loop for the state with snapshots at block starts, dense masked softmax per
// attention chunk), so autograd gives it an independent backward: the oracle for tests and
// the baseline for benchmarks. Both entries have the same signature.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

struct HybridChunkOutput {
  Tensor o_fw;         // [B, T, H, d_v]
  Tensor o_kv;         // [B, T, H, d_v]
  Tensor final_state;  // [B, H, d_k, d_v]
};

HybridChunkOutput hybrid_chunk(const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv, const Tensor& k_kv,
                               const Tensor& v, const Tensor& beta, const Tensor& initial_state,
                               int64_t chunk_size, int64_t fw_block_size, bool l2norm_qk = true,
                               double scale = 0);

HybridChunkOutput hybrid_chunk_reference(const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv,
                                         const Tensor& k_kv, const Tensor& v, const Tensor& beta,
                                         const Tensor& initial_state, int64_t chunk_size, int64_t fw_block_size,
                                         bool l2norm_qk = true, double scale = 0);

// ---- The pieces behind the two entries ------------------------------------------------
namespace hybrid_chunk_detail {

// The ε of the in-op ℓ2 normalisation (docs/math/models.md §1.3; the default of l2_normalize).
inline constexpr double kL2Eps = 1e-6;

// One call's sizes and options, after checking. Element (b, t, h, i) of a contiguous
// [B, T, H, d] tensor sits at ((b·T + t)·H + h)·d + i.
struct Problem {
  int64_t batch = 0, time = 0, heads = 0, dk = 0, dv = 0;
  int64_t kv_chunk = 0;  // C_kv
  int64_t fw_block = 0;  // C_fw
  bool l2 = true;
  double scale = 1;      // resolved: never 0
};

// Throws hqlt::Error naming `op` and the argument unless the arguments are valid (see
// above); returns the problem they describe.
Problem check_arguments(const char* op, const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv,
                        const Tensor& k_kv, const Tensor& v, const Tensor& beta, const Tensor& initial_state,
                        int64_t chunk_size, int64_t fw_block_size, bool l2norm_qk, double scale);

// The CPU kernels (hybrid_chunk_cpu.cpp). Every tensor is contiguous and of one float dtype;
// initial_state may be undefined (zeros).
//   forward:  writes o_fw, o_kv [B, T, H, d_v], final_state [B, H, d_k, d_v], lse [B, H, T]
//   backward: the gradients of all inputs from d_o_fw, d_o_kv, d_final (each may be
//             undefined: zero)
struct Inputs {
  Tensor q_fw, k_fw, q_kv, k_kv, v, beta, initial_state;
};
struct Grads {
  Tensor q_fw, k_fw, q_kv, k_kv, v, beta, initial_state;
};
void forward_cpu(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv,
                 const Tensor& final_state, const Tensor& lse);
Grads backward_cpu(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw,
                   const Tensor& d_o_kv, const Tensor& d_final);

}  // namespace hybrid_chunk_detail
}  // namespace hqlt
