#pragma once
// TransformerAttention: the token mixer of the Transformer baseline (docs/math/models.md §3).
// With d = D / H heads of queries and H_kv heads of keys and values:
//
//   q = x W_qᵀ, k = x W_kᵀ, v = x W_vᵀ        split into heads (+ b_q, b_k, b_v with qkv_bias)
//   q, k ← RMSNorm_d(q), RMSNorm_d(k)          per head, only with qk_norm (ε = 1e-5)
//   q, k ← RoPE(q), RoPE(k)                    positions 0..T-1, base rope_theta (§1.5)
//   o_t  = Σ_{j ∈ N(t)} softmax_j(s · q_t·k_j) v_j,   s = d^{-1/2}
//          N(t) = { j ≤ t }, or the last W keys { t-W+1 .. t } with window_size = W
//   a    = merge_heads(o) W_oᵀ
//
// Query head h reads kv head floor(h / (H / H_kv)) (grouped-query attention when
// H_kv < H): the attention op takes k and v with their H_kv heads and shares each among its
// G = H / H_kv query heads, so no repeated copy is made.
//
//   x       [B, T, D]
//   q_proj  [D, D]           "q_proj.weight"  (+ "q_proj.bias" [D] with qkv_bias)
//   k_proj  [H_kv·d, D]      "k_proj.weight"  (+ "k_proj.bias" [H_kv·d])
//   v_proj  [H_kv·d, D]      "v_proj.weight"  (+ "v_proj.bias" [H_kv·d])
//   q_norm  [d]              "q_norm.weight"  (qk_norm; also "k_norm.weight" [d])
//   o_proj  [D, D]           "o_proj.weight"
//   -> a    [B, T, D]
//
// Saved for backward: what the ops save (the projections' inputs, the attention op's q, k,
// v, output and log-sum-exp). Every paper config has qkv_bias and qk_norm off; the reference
// class accepts them, and so do we.
#include <memory>

#include "models/config.h"
#include "models/token_mixer.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"
#include "nn/rotary.h"

namespace hqlt::models {

class TransformerAttention : public TokenMixer {
 public:
  explicit TransformerAttention(const ModelConfig& config);
  std::string type_name() const override { return "TransformerAttention"; }

  Tensor forward(const Tensor& x) const override;
  Tensor step(const Tensor& x, LayerCache& cache) const override;  // §5.10, see decode_state.h

  const int64_t hidden_size, num_heads, num_kv_heads, head_dim;
  const int64_t window;  // W, or -1 for full causal attention
  // In the reference's registration order; q_norm and k_norm are null without qk_norm.
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj;
  std::shared_ptr<nn::RMSNorm> q_norm, k_norm;
  std::shared_ptr<nn::Linear> o_proj;
  nn::RotaryEmbedding rotary;

 private:
  // The projections split into heads, normed with qk_norm and rotated from `position`.
  struct QKV {
    Tensor q, k, v;
  };
  QKV project(const Tensor& x, int64_t position) const;
};

}  // namespace hqlt::models
