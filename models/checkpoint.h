#pragma once
// Checkpoints in the Hugging Face layout of the reference (docs/math/models.md §7): a folder with
//
//   config.json          every config key (models/config_json.h)
//   model.safetensors    every parameter under its reference state-dict name (§7.1),
//                        with __metadata__ {"format": "pt"} as transformers expects
//
// so a folder saved by the reference loads here, and ours load there. Beside them, a
// resumable training run keeps
//
//   training_state.safetensors   AdamW's state per parameter ("<param>.exp_avg",
//                                "<param>.exp_avg_sq", "<param>.step"), the run's extra
//                                tensors as "extra/<name>", and in __metadata__ the step,
//                                tokens seen, the generator (seed, offset), the optimiser's
//                                hyper-parameters and the run's extra strings
//
// Every file is written atomically (temporary file + rename), so a crash leaves either the
// old file or the new one. Loading is strict and every problem is one hqlt::Error naming the
// file: a missing or unexpected tensor, a wrong shape, a dtype that is not a float type
// (F32, BF16, F16 and F64 are accepted and converted to the model's dtype; BF16/F16 widen
// exactly), or a malformed file (truncated, lying header, ... — io/safetensors.h).
// With tie_word_embeddings the head reuses the embedding table: lm_head.weight is not
// saved, and is accepted (and ignored) when a tied checkpoint carries it anyway.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/rng.h"
#include "models/causal_lm.h"
#include "models/config.h"
#include "nn/adamw.h"
#include "nn/module.h"

namespace hqlt::models {

// ---- model ------------------------------------------------------------------------------

// Writes dir/model.safetensors (the parameters in their dtype) and dir/config.json,
// creating dir (and its parents) if needed.
void save_pretrained(const CausalLM& model, const std::string& dir);

// Builds the model that dir/config.json describes, as `dtype` (f32 or f64), loads
// dir/model.safetensors into it strictly, and returns it in eval mode. Unknown config keys
// do not fail the load; they are reported in *config_warning when given ("" if none).
std::shared_ptr<CausalLM> load_pretrained(const std::string& dir, DType dtype = DType::f32,
                                          std::string* config_warning = nullptr);

// The state-dict layout a config implies (§7.1): every parameter name with its shape, in
// reference order (embeddings, then per layer attn_norm, the token mixer, mlp_norm, mlp,
// then norm and lm_head). Computed from the config alone — no tensor is allocated — so it
// also gives the size of the paper's 1.3B models without building them.
std::vector<std::pair<std::string, Shape>> reference_parameter_shapes(const ModelConfig& config);
int64_t reference_num_parameters(const ModelConfig& config);

// ---- training state -----------------------------------------------------------------------

// Everything besides the weights and the optimiser moments that a run needs to continue
// with the same bits.
struct TrainingState {
  int64_t step = 0;         // optimiser steps completed
  int64_t tokens_seen = 0;  // training tokens consumed so far
  Generator rng;            // the run's generator as it stands (seed and offset)
  std::map<std::string, std::string> extra;  // anything else, as text (e.g. data position)
  nn::StateDict extra_tensors;               // anything else, as tensors (e.g. a loss history)
};

// Writes dir/training_state.safetensors (creating dir if needed).
void save_training_state(const std::string& dir, const nn::AdamW& optimizer, const TrainingState& state);
// Restores the optimiser's per-parameter state and learning rate from
// dir/training_state.safetensors and returns the rest. The optimiser must hold the same
// parameters (names, shapes, dtypes) as the one that was saved.
TrainingState load_training_state(const std::string& dir, nn::AdamW& optimizer);

}  // namespace hqlt::models
