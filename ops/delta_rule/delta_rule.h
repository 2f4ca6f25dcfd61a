#pragma once
// The delta rule (DeltaNet's fast-weight memory), computed chunkwise.
//
// Per (batch b, head h), a state S ∈ R^{d_k×d_v} starts at the initial state and each token
// t = 0..T-1 first writes, then reads (docs/math/models.md §4.2, docs/math/kernels.md §1.1):
//
//   q̂_t, k̂_t = ℓ2(q_t), ℓ2(k_t)   when l2norm_qk (ℓ2(x) = x / sqrt(Σ x² + 1e-6), §1.3),
//               else q_t, k_t as given
//   δ_t = β_t (v_t − Sᵀ k̂_t)        the error of what S retrieves for k̂_t, times β_t
//   S   = S + k̂_t δ_tᵀ              = (I − β_t k̂_t k̂_tᵀ) S + β_t k̂_t v_tᵀ
//   o_t = s · Sᵀ q̂_t,  s = d_k^{-1/2}   (read AFTER write; q̂ is scaled even when unit-norm)
//
// and final_state is S after the last token. β may lie in (0, 2): the transition then has
// the negative eigenvalue 1 − β along k̂ (HQLT's "allow_neg_eigval").
//
//   q:             [B, T, H, d_k]   any strides; f32 or f64
//   k:             [B, T, H, d_k]
//   v:             [B, T, H, d_v]
//   beta:          [B, T, H]
//   initial_state: [B, H, d_k, d_v], or undefined (Tensor()) for zeros
//   chunk_size:    a power of two in [8, 128] (64 is the reference's)
//   l2norm_qk:     normalise q and k over d_k inside the op (forward and backward fused)
//   o:             [B, T, H, d_v]   contiguous, same dtype as q
//   final_state:   [B, H, d_k, d_v] contiguous
//
// delta_rule computes this with the chunkwise UT/WY algorithm (docs/math/kernels.md §2, derivation
// in NOTES.md): inside a chunk of C tokens the C rank-1 updates become small matrix products,
// and only the d_k×d_v state is carried from chunk to chunk. T need not be a multiple of C
// (the last chunk is shorter). Batch × head pairs run in parallel (OpenMP).
//
// Gradients flow to q, k, v, beta and initial_state from both outputs; an output that
// received no gradient counts as zero. Backward saves what docs/math/kernels.md §2.4 asks for: the
// raw (pre-ℓ2) q and k, v, beta and the initial state (contiguous copies only when the
// inputs were not contiguous). Everything else — ℓ2 norms, the WY matrices, the per-chunk
// states S_n — is recomputed chunk by chunk; nothing of size T×T is ever formed.
//
// delta_rule_reference computes the same thing from its definition: a loop over tokens
// built from recorded primitive ops (matmul, elementwise, slicing, concat), so autograd
// derives an independent backward. It is slow (T sequential steps, each recorded) and
// meant for tests and benchmarks. It validates chunk_size like delta_rule but does not use
// it. Both functions have the same signature, so a benchmark can swap one for the other.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

struct DeltaRuleOutput {
  Tensor o;            // [B, T, H, d_v]
  Tensor final_state;  // [B, H, d_k, d_v]
};

DeltaRuleOutput delta_rule(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const Tensor& initial_state, int64_t chunk_size = 64, bool l2norm_qk = false);

DeltaRuleOutput delta_rule_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                     const Tensor& initial_state, int64_t chunk_size = 64,
                                     bool l2norm_qk = false);

namespace detail {

// The epsilon of the in-kernel ℓ2 normalisation (docs/math/models.md §1.3), shared by both entries.
inline constexpr double kDeltaRuleL2Eps = 1e-6;

// Checks the arguments of delta_rule / delta_rule_reference (`op` names the caller) and
// throws hqlt::Error naming the offending argument.
void check_delta_rule_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const Tensor& initial_state, int64_t chunk_size);

// The CPU kernels behind delta_rule (delta_rule_cpu.cpp). Every tensor is contiguous,
// checked, and of one float dtype; initial_state, d_o and d_final may be undefined (zero).
struct DeltaRuleGrads {
  Tensor dq, dk, dv, dbeta, dinitial_state;
};
void delta_rule_forward_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                            const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk, const Tensor& o,
                            const Tensor& final_state);
DeltaRuleGrads delta_rule_backward_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                       const Tensor& initial_state, const Tensor& d_o, const Tensor& d_final,
                                       int64_t chunk_size, bool l2norm_qk);

}  // namespace detail
}  // namespace hqlt
