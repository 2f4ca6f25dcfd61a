#pragma once
// DeltaNetLayer: the token mixer of the DeltaNet baseline (docs/math/models.md §4). Per token,
// with H heads of key dim d_k and value dim d_v:
//
//   q = φ(conv_q(x W_qᵀ)), k = φ(conv_k(x W_kᵀ)), v = silu(conv_v(x W_vᵀ))
//       (use_short_conv; without it q = φ(x W_qᵀ), k = φ(x W_kᵀ), v = silu(x W_vᵀ)), where
//       φ = qk_activation: silu (every paper config), relu, elu (meaning elu + 1) or identity
//   β_t = σ(x_t · b_proj[h])  per head (β = 1 without use_beta). Not ×2: the reference DeltaNet
//       model does not pass allow_neg_eigval to its layer, so β ∈ (0, 1) (§4.1) — unless
//       hqlt_neg_eigval (config.h) asks for β ∈ (0, 2)
//   o   = delta rule on (ℓ2(q), ℓ2(k), v, β) from a zero state, read after write with
//         scale d_k^{-1/2} (§4.2); the ℓ2 happens inside the op. With qk_norm = "sum" the
//         op gets q / Σᵢ qᵢ and k / Σᵢ kᵢ per head instead, and no ℓ2
//   y_t = RMSNorm_{d_v}(o_t) per head, or GatedRMSNorm(o_t, g_t) with g = x W_gᵀ (use_gate)
//   a   = merge_heads(y) W_oᵀ
//
//   x         [B, T, D]
//   q_proj    [key_dim, D]         k_proj [key_dim, D]        v_proj [value_dim, D]
//   b_proj    [H, D]               (use_beta)
//   q_conv1d  [key_dim, 1, K]      k_conv1d [key_dim, 1, K]   v_conv1d [value_dim, 1, K]
//                                  (use_short_conv; K = conv_size; no bias)
//   g_proj    [value_dim, D]       (use_gate)
//   o_norm    [d_v]                o_proj [D, value_dim]
//   -> a      [B, T, D]
//
// The fused kernel is the chunkwise delta rule with chunk 64 (the reference kernel's); the
// result does not depend on the chunk length. Saved for backward: what the ops save (the
// delta rule keeps the pre-ℓ2 q and k, v and β; everything else is recomputed).
#include <memory>

#include "models/config.h"
#include "models/token_mixer.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"
#include "nn/short_conv.h"

namespace hqlt::models {

class DeltaNetLayer : public TokenMixer {
 public:
  explicit DeltaNetLayer(const ModelConfig& config);
  std::string type_name() const override { return "DeltaNetLayer"; }

  Tensor forward(const Tensor& x) const override;
  Tensor step(const Tensor& x, LayerCache& cache) const override;  // §5.10, see decode_state.h

  // The chunk length of the fused delta rule (the reference kernel's 64).
  static constexpr int64_t kDeltaRuleChunk = 64;

  const int64_t hidden_size, num_heads, key_dim, value_dim, head_k_dim, head_v_dim;
  const double norm_eps;
  const bool neg_eigval;  // config.delta_net_neg_eigval: β ∈ (0, 2) instead of (0, 1)
  enum class QKActivation { silu, relu, elu_plus_one, identity };
  const QKActivation qk_activation;
  const bool sum_norm;    // qk_norm = "sum" rather than "l2"
  // Sub-modules in the reference's registration order; the optional ones are null when
  // their flag is off.
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, b_proj;
  std::shared_ptr<nn::ShortConvolution> q_conv1d, k_conv1d, v_conv1d;
  std::shared_ptr<nn::Linear> g_proj;
  std::shared_ptr<nn::RMSNorm> o_norm;               // without use_gate
  std::shared_ptr<nn::GatedRMSNorm> o_norm_gated;    // with use_gate (also named "o_norm")
  std::shared_ptr<nn::Linear> o_proj;

 private:
  Tensor qk_heads(const Tensor& x, int64_t batch, int64_t time) const;
};

}  // namespace hqlt::models
