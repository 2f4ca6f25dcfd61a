#include "models/causal_lm.h"

#include "engine/autograd.h"
#include "nn/init.h"
#include "ops/matmul/matmul.h"

namespace hqlt::models {
namespace {

const ModelConfig& validated(const ModelConfig& c) {
  c.validate();
  return c;
}

// §6: o_proj / down_proj are redrawn and rescaled for delta_net and hybrid_qlt only.
nn::ResidualInit residual_init(ModelType t) {
  return t == ModelType::transformer ? nn::ResidualInit::none : nn::ResidualInit::rescale;
}

}  // namespace

DecoderModel::DecoderModel(const ModelConfig& c)
    : embeddings(register_module(
          "embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id.value_or(-1)))),
      layers(register_module("layers", std::make_shared<nn::ModuleList>())),
      norm(register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.norm_eps))) {
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(std::make_shared<DecoderBlock>(c, i));
}

DecoderBlock& DecoderModel::layer(size_t i) const { return static_cast<DecoderBlock&>(*(*layers)[i]); }

Tensor DecoderModel::forward_embeds(const Tensor& inputs_embeds) const {
  Tensor h = inputs_embeds;
  for (size_t i = 0; i < layers->size(); ++i) h = layer(i).forward(h);
  return norm->forward(h);
}

CausalLM::CausalLM(const ModelConfig& c, Generator& gen)
    : model(register_module("model", std::make_shared<DecoderModel>(validated(c)))), config_(c) {
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", std::make_shared<nn::Linear>(c.hidden_size, c.vocab_size));
  nn::InitConfig init;
  init.initializer_range = c.initializer_range;
  init.residual = residual_init(c.model_type);
  init.num_hidden_layers = c.num_hidden_layers;
  init.num_residuals_per_layer = 2;  // attention + MLP per block
  nn::init_weights(*this, init, gen);
}

void CausalLM::set_kernels(Kernels k) {
  kernels_ = k;
  for (size_t i = 0; i < model->layers->size(); ++i) model->layer(i).attn->set_kernels(k);
}

Tensor CausalLM::hidden_states(const Tensor& inputs_embeds) const {
  HQLT_CHECK(inputs_embeds.defined(), "CausalLM: argument 'inputs_embeds' is undefined");
  HQLT_CHECK(inputs_embeds.dim() == 3 && inputs_embeds.size(2) == config_.hidden_size,
             "CausalLM: argument 'inputs_embeds': expected [B, T, ", config_.hidden_size, "] (hidden_size), got shape ",
             shape_str(inputs_embeds.shape()));
  return model->forward_embeds(inputs_embeds);
}

Tensor CausalLM::logits(const Tensor& hidden) const {
  if (lm_head) return lm_head->forward(hidden);
  // Tied: the embedding table is the head, logits = h Eᵀ.
  const Tensor& e = model->embeddings->weight;
  Shape out = hidden.shape();
  out.back() = config_.vocab_size;
  return matmul(hidden.reshape({-1, config_.hidden_size}), e, false, true).reshape(out);
}

Tensor CausalLM::forward(const Tensor& input_ids) const {
  HQLT_CHECK(input_ids.defined(), "CausalLM: argument 'input_ids' is undefined");
  HQLT_CHECK(input_ids.dtype() == DType::i32 || input_ids.dtype() == DType::i64,
             "CausalLM: argument 'input_ids': expected i32 or i64 token ids, got ", dtype_name(input_ids.dtype()));
  HQLT_CHECK(input_ids.dim() == 2, "CausalLM: argument 'input_ids': expected [B, T], got shape ",
             shape_str(input_ids.shape()));
  // Out-of-vocabulary ids throw in the embedding lookup, naming the value and its position.
  return logits(hidden_states(model->embeddings->forward(input_ids)));
}

Tensor CausalLM::step(const Tensor& ids, DecodeState& state) const {
  HQLT_CHECK(ids.defined(), "CausalLM::step: argument 'ids' is undefined");
  HQLT_CHECK(ids.dtype() == DType::i32 || ids.dtype() == DType::i64,
             "CausalLM::step: argument 'ids': expected i32 or i64 token ids, got ", dtype_name(ids.dtype()));
  HQLT_CHECK(ids.dim() == 1 || (ids.dim() == 2 && ids.size(1) == 1),
             "CausalLM::step: argument 'ids': expected [B] or [B, 1] (one token per row), got shape ",
             shape_str(ids.shape()));
  const int64_t b = ids.size(0);
  NoGrad no_grad;
  const Tensor hidden = step_hidden(model->embeddings->forward(ids.reshape({b, 1})).reshape({b, config_.hidden_size}), state);
  return logits(hidden.reshape({b, 1, config_.hidden_size})).reshape({b, config_.vocab_size});
}

Tensor CausalLM::step_hidden(const Tensor& inputs_embeds, DecodeState& state) const {
  HQLT_CHECK(inputs_embeds.defined() && inputs_embeds.dim() == 2 && inputs_embeds.size(1) == config_.hidden_size,
             "CausalLM::step_hidden: argument 'inputs_embeds': expected [B, ", config_.hidden_size, "], got ",
             inputs_embeds.defined() ? shape_str(inputs_embeds.shape()) : "none");
  const int64_t b = inputs_embeds.size(0);
  if (state.layers.empty()) {
    state.batch = b;
    state.layers.resize(model->layers->size());
  }
  HQLT_CHECK(b == state.batch && state.layers.size() == model->layers->size(), "CausalLM::step: ", b,
             " rows, but the decode state was started with ", state.batch, " rows for a model of ",
             state.layers.size(), " layers");
  NoGrad no_grad;
  Tensor h = inputs_embeds.reshape({b, 1, config_.hidden_size});
  for (size_t i = 0; i < model->layers->size(); ++i) h = model->layer(i).step(h, state.layers[i]);
  ++state.position;
  return model->norm->forward(h).reshape({b, config_.hidden_size});
}

}  // namespace hqlt::models
