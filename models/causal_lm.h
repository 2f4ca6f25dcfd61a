#pragma once
// CausalLM: the language model around every token mixer — embeddings, L pre-norm decoder
// blocks, final RMSNorm, LM head (docs/math/models.md §1.7, §2). Its parameter names are the
// reference state-dict names (§7.1): "model.embeddings.weight", "model.layers.{i}.attn.…",
// "model.layers.{i}.mlp.…", "model.norm.weight", "lm_head.weight".
//
//   h⁰     = E[input_ids]                          E = model.embeddings.weight [V, D]
//   hˡ⁺¹   = DecoderBlock_ℓ(hˡ)                    ℓ = 0 .. L-1
//   logits = RMSNorm_final(hᴸ) lm_headᵀ            lm_head.weight [V, D], or E itself when
//                                                  tie_word_embeddings (then no lm_head)
//
//   input_ids: [B, T] i32/i64, values in [0, vocab_size)
//   logits:    [B, T, vocab_size], in the parameters' dtype (f32, or f64 after to(f64))
//
// pad_token_id becomes the embedding's padding_idx: that row's gradient is always zero
// (its value is still read, and initialised like every other row, §6). The reference class
// nests everything except lm_head under "model.", and so does this one: the sub-module
// "model" is a DecoderModel.
//
// Construction validates the config, builds every parameter and initialises them as the
// reference does for training from scratch (§6): initializer_range from the config, and
// the o_proj / down_proj rescale for delta_net and hybrid_qlt only.
//
// Backward runs through the tape of the ops above; this class saves nothing of its own.
//
// set_kernels(Kernels::reference) makes every token mixer use the plain reference ops
// instead of the fused ones (see models/token_mixer.h), so one model with one set of
// weights can be run both ways.
#include <memory>

#include "engine/rng.h"
#include "models/config.h"
#include "models/decode_state.h"
#include "models/decoder_block.h"
#include "models/token_mixer.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/rms_norm.h"

namespace hqlt::models {

// Everything but the LM head: "embeddings", "layers.{i}", "norm".
class DecoderModel : public nn::Module {
 public:
  explicit DecoderModel(const ModelConfig& config);
  std::string type_name() const override { return "DecoderModel"; }

  // inputs_embeds [B, T, D] -> the final-normed hidden state [B, T, D].
  Tensor forward_embeds(const Tensor& inputs_embeds) const;

  std::shared_ptr<nn::Embedding> embeddings;
  std::shared_ptr<nn::ModuleList> layers;  // of DecoderBlock
  std::shared_ptr<nn::RMSNorm> norm;

  DecoderBlock& layer(size_t i) const;
};

class CausalLM : public nn::Module {
 public:
  // Builds every parameter (validating the config first) and initialises them as the
  // reference does for training from scratch (§6), drawing from `gen`.
  explicit CausalLM(const ModelConfig& config, Generator& gen = default_generator());
  std::string type_name() const override { return "CausalLM"; }

  const ModelConfig& config() const { return config_; }

  // Logits for every position. Token ids outside the vocabulary throw hqlt::Error.
  Tensor forward(const Tensor& input_ids) const;
  // The final-normed hidden state [B, T, D] for given input embeddings [B, T, D] (no
  // token embedding, no LM head: how the RL agents use the backbone, docs/math/tasks.md §C).
  Tensor hidden_states(const Tensor& inputs_embeds) const;
  // The LM head on a final hidden state: [B, T, D] -> [B, T, V].
  Tensor logits(const Tensor& hidden) const;

  // Streaming decoding (docs/math/models.md §5.10): the logits [B, V] that forward() would give
  // at the next position of the sequence fed so far, for one new token per row, ids [B] or
  // [B, 1]. `state` starts default-constructed (empty) and carries every layer's cache;
  // the first step fixes B. Runs under NoGrad. The recurrent families (delta_net, every
  // HQLT mode) do O(1) work per token; the Transformer attends over its growing KV cache.
  Tensor step(const Tensor& ids, DecodeState& state) const;
  // The same for input embeddings [B, D] (one new position per row), returning the final-
  // normed hidden state [B, D] that hidden_states() would give there: how an RL agent acts
  // one step at a time on its memory (docs/math/rl.md §2.4).
  Tensor step_hidden(const Tensor& inputs_embeds, DecodeState& state) const;

  void set_kernels(Kernels k);
  Kernels kernels() const { return kernels_; }

  std::shared_ptr<DecoderModel> model;
  std::shared_ptr<nn::Linear> lm_head;  // null when tie_word_embeddings

 private:
  ModelConfig config_;
  Kernels kernels_ = Kernels::fused;
};

}  // namespace hqlt::models
