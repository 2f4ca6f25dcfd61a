#pragma once
// DecoderBlock: one pre-norm residual layer, the same for all three families
// (docs/math/models.md §2):
//
//   h = h + Mixer( RMSNorm_attn(h) )
//   h = h + MLP( RMSNorm_mlp(h) )
//
// The mixer is the family's token mixer (TransformerAttention, DeltaNetLayer or HQLTLayer)
// and sees the normalised hidden state; MLP is the SwiGLU GatedMLP with the §1.6
// intermediate size. No dropout.
//
//   h          [B, T, D]
//   attn_norm  [D]      "attn_norm.weight"  (ε = norm_eps)
//   attn       the mixer's parameters under "attn."
//   mlp_norm   [D]      "mlp_norm.weight"
//   mlp        "mlp.gate_proj.weight" [I, D], "mlp.up_proj.weight" [I, D], "mlp.down_proj.weight" [D, I]
//   -> h       [B, T, D]
//
// Saved for backward: what the norms, the mixer and the MLP save; the residual additions
// save nothing.
#include <memory>

#include "models/config.h"
#include "models/token_mixer.h"
#include "nn/gated_mlp.h"
#include "nn/rms_norm.h"

namespace hqlt::models {

// The token mixer of config.model_type, built from the config.
// The token mixer of block `layer_index`: the family's, or softmax attention at an index
// listed in config.attn.
std::shared_ptr<TokenMixer> make_token_mixer(const ModelConfig& config, int64_t layer_index = 0);

class DecoderBlock : public nn::Module {
 public:
  explicit DecoderBlock(const ModelConfig& config, int64_t layer_index = 0);
  std::string type_name() const override { return "DecoderBlock"; }

  Tensor forward(const Tensor& h) const;
  // One new token h [B, 1, D] of a streamed sequence (§5.10): the mixer reads and updates
  // `cache`; the norms and the MLP act per token anyway.
  Tensor step(const Tensor& h, LayerCache& cache) const;

  std::shared_ptr<nn::RMSNorm> attn_norm;
  std::shared_ptr<TokenMixer> attn;
  std::shared_ptr<nn::RMSNorm> mlp_norm;
  std::shared_ptr<nn::GatedMLP> mlp;
};

}  // namespace hqlt::models
