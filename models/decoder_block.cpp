#include "models/decoder_block.h"

#include "models/delta_net_layer.h"
#include "models/hqlt_layer.h"
#include "models/transformer_attention.h"
#include "ops/elementwise/elementwise.h"

namespace hqlt::models {

std::shared_ptr<TokenMixer> make_token_mixer(const ModelConfig& c, int64_t layer_index) {
  // A layer-wise hybrid's attention layer (§2): the Transformer's mixer with attn's heads.
  if (c.is_attention_layer(layer_index)) return std::make_shared<TransformerAttention>(c.attention_layer_config());
  switch (c.model_type) {
    case ModelType::transformer: return std::make_shared<TransformerAttention>(c);
    case ModelType::delta_net: return std::make_shared<DeltaNetLayer>(c);
    case ModelType::hybrid_qlt: return std::make_shared<HQLTLayer>(c);
  }
  fail("make_token_mixer: unknown model type");
}

DecoderBlock::DecoderBlock(const ModelConfig& c, int64_t layer_index)
    : attn_norm(register_module("attn_norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.norm_eps))),
      attn(register_module("attn", make_token_mixer(c, layer_index))),
      mlp_norm(register_module("mlp_norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.norm_eps))),
      mlp(register_module("mlp", std::make_shared<nn::GatedMLP>(c.hidden_size, c.mlp_hidden()))) {}

Tensor DecoderBlock::forward(const Tensor& h) const {
  Tensor r = add(h, attn->forward(attn_norm->forward(h)));
  return add(r, mlp->forward(mlp_norm->forward(r)));
}

Tensor DecoderBlock::step(const Tensor& h, LayerCache& cache) const {
  Tensor r = add(h, attn->step(attn_norm->forward(h), cache));
  return add(r, mlp->forward(mlp_norm->forward(r)));
}

}  // namespace hqlt::models
