#pragma once
// HQLTLayer: the Hybrid Quadratic-Linear Transformer token mixer (docs/math/models.md §5). One
// layer holds a KV-memory (softmax attention over a bounded set of recent tokens) and an
// FW-memory (delta-rule fast weights, or linear attention) that share the projections;
// their per-head outputs are mixed, normalised and projected.
//
// Front end (§5.1; qk_activation is "identity", so q and k stay raw):
//   q = conv_q(x W_qᵀ), k = conv_k(x W_kᵀ)    NO activation after the q/k convs
//   v = silu(conv_v(x W_vᵀ))                  SiLU'd values, shared by BOTH memories
//       (without use_short_conv: q = x W_qᵀ, k = x W_kᵀ, v = silu(x W_vᵀ))
//   q̃, k̃ = RoPE(q), RoPE(k) with base 10000 if use_local_pos_encoding, else q, k   (KV)
//   q̂, k̂ = ℓ2(silu(q)), ℓ2(silu(k))  (the ℓ2 inside the ops)                     (FW)
//   β_t  = σ(x_t · b_proj[h]) per head (1 without use_beta), ×2 if allow_neg_eigval
//
// Memories, with C = chunk_size and s = d_k^{-1/2} (§5.2–5.6):
//   sync_chunk         o_kv = SWA_C(q̃, k̃, v): softmax over the last C tokens incl. t
//                      o_fw = delta rule on (q̂, k̂, v, β) over all tokens (read after write)
//   delayed            o_kv as sync_chunk; o_fw = delta rule on (q̂, ℓ2(k'), v', β) where
//                      k'_t = silu(k_{t-C}), v'_t = v_{t-C} for t ≥ C and 0 before: keys
//                      and values enter the fast weights C steps late, q and β do not
//   chunk              o_kv = causal attention inside t's chunk of C tokens only;
//                      o_fw = s · P_{F(t)}ᵀ q̂_t, the state before t's FW block of
//                      C_fw = config.fw_block_size() tokens (64 in the reference)
//   sync_chunk_linear  o_kv as sync_chunk; o_fw = linear attention with φ = elu+1 on the
//                      RAW q and k, normaliser per config.linear_normalizer (β unused,
//                      b_proj gets no gradient)
//
// Mixing per head (§5.7), the first flag that holds wins:
//   use_memory_gate           g = σ(x W_mgᵀ) per head: o = g ⊙ o_fw + (1 − g) ⊙ o_kv;
//     + use_memory_gate_separate  W_mg has 2·value_dim rows; head h's block of 2·d_v holds
//                                 the FW gate then the KV gate: o = σ(a_fw) ⊙ o_fw + σ(a_kv) ⊙ o_kv
//   use_memory_dynamic_scaler m = σ(x W_mmᵀ) ∈ R^{2H}: o_h = m_h · o_fw,h + m_{H+h} · o_kv,h
//   use_memory_scaler         o = fw_scale · o_fw + kv_scale · o_kv (two learned scalars)
//   otherwise                 o = o_fw + o_kv
// Output (§5.8): y = RMSNorm_{d_v}(o) per head, or GatedRMSNorm(o, x W_gᵀ) with use_gate;
// a = merge_heads(y) W_oᵀ.
//
//   x                 [B, T, D]
//   q_proj, k_proj    [key_dim, D]            v_proj [value_dim, D]
//   b_proj            [H, D]                  (use_beta)
//   q_conv1d, k_conv1d [key_dim, 1, K]        v_conv1d [value_dim, 1, K]   (use_short_conv)
//   memory_gate_proj  [value_dim·(2 if separate else 1), D]               (use_memory_gate)
//   memory_mixer      [2H, D]                 (use_memory_dynamic_scaler, even if the gate wins)
//   fw_scale, kv_scale [1]                    (use_memory_scaler; initialised to 1)
//   g_proj            [value_dim, D]          (use_gate)
//   o_norm            [d_v]                   o_proj [D, value_dim]
//   -> a              [B, T, D]
//
// The fused kernels: attention (window C), delta_rule (chunk 64), linear_attention
// (chunk 64) and hybrid_chunk; chunk mode needs C and C_fw to be powers of two in [8, 128]
// (the op checks). Saved for backward: what those ops and the projections save.
#include <memory>

#include "models/config.h"
#include "models/token_mixer.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"
#include "nn/rotary.h"
#include "nn/short_conv.h"

namespace hqlt::models {

class HQLTLayer : public TokenMixer {
 public:
  explicit HQLTLayer(const ModelConfig& config);
  std::string type_name() const override { return "HQLTLayer"; }

  Tensor forward(const Tensor& x) const override;
  Tensor step(const Tensor& x, LayerCache& cache) const override;  // §5.10, see decode_state.h

  // The two memories' per-head outputs before mixing, each [B, T, H, d_v]. forward() is
  // mix → norm → o_proj on these; exposed so their properties can be checked directly.
  struct Memories {
    Tensor fw, kv;
  };
  Memories memories(const Tensor& x) const;
  // The §5.7 mix of the two memories for input x: [B, T, H, d_v].
  Tensor mix(const Tensor& x, const Memories& m) const;

  // The chunk length of the fused delta-rule and linear-attention kernels (the reference's).
  static constexpr int64_t kKernelChunk = 64;

  const ModelConfig config;
  const int64_t hidden_size, num_heads, key_dim, value_dim, head_k_dim, head_v_dim;
  // Sub-modules and parameters in the §7.1 order; the optional ones are null when off.
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, b_proj;
  std::shared_ptr<nn::ShortConvolution> q_conv1d, k_conv1d, v_conv1d;
  std::shared_ptr<nn::Linear> memory_gate_proj, memory_mixer;
  Tensor* fw_scale = nullptr;  // [1]
  Tensor* kv_scale = nullptr;  // [1]
  std::shared_ptr<nn::Linear> g_proj;
  std::shared_ptr<nn::RMSNorm> o_norm;             // without use_gate
  std::shared_ptr<nn::GatedRMSNorm> o_norm_gated;  // with use_gate (also named "o_norm")
  std::shared_ptr<nn::Linear> o_proj;
  std::unique_ptr<nn::RotaryEmbedding> rotary;  // with use_local_pos_encoding only

 private:
  // The shared front end of §5.1, split into heads.
  struct FrontEnd {
    Tensor q, k;  // [B, T, H, d_k], raw
    Tensor v;     // [B, T, H, d_v], SiLU'd
  };
  FrontEnd front_end(const Tensor& x) const;
  // front_end() for one streamed token [B, 1, D], the convs carrying their state in `cache`.
  FrontEnd front_end_step(const Tensor& x, LayerCache& cache) const;
  Tensor beta(const Tensor& x) const;  // [B, T, H]
};

}  // namespace hqlt::models
