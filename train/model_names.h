#pragma once
// The models `hqlt train --model NAME` knows, as small configs for the synthetic tasks
// (docs/math/tasks.md §A.7: d_model 128, 2 layers, 4 heads of 32, chunk 8, init range 0.006,
// short convolutions, β ∈ (0, 2), dynamic vector mixing, gated output norm):
//
//   transformer           KV-memory only: full causal softmax attention with RoPE (§3)
//   delta_net             FW-memory only: DeltaNet with short convs and β ∈ (0, 2)
//                         (hqlt_neg_eigval — the paper's "negative eigenvalues" baseline)
//   sync_hqlt             Synchronous HQLT (attn_mode sync_chunk)
//   delayed_stream_hqlt   Delayed-Stream HQLT (attn_mode delayed)
//   delayed_chunk_hqlt    Delayed-Chunk HQLT (attn_mode chunk; chunk 16 as the paper's yaml,
//                         FW read blocks of 64 as the reference — `--set hqlt_fw_block=chunk_size`
//                         for the paper's definition)
//   sync_linear_hqlt      Synchronous HQLT with linear attention as the FW memory
//   delta_net_attn        the layer-wise hybrid: delta_net with every second block (1, 3, ...)
//                         full causal softmax attention (config key `attn`)
//
// apply_overrides() then changes any config.json key ("--set key=value"), checked like a
// config file: an unknown key or a wrong value is an error naming it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/config.h"

namespace hqlt::train {

struct ModelShape {
  int64_t hidden_size = 128;
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  std::optional<int64_t> chunk_size;           // null: 8, or 16 for delayed_chunk_hqlt
  std::optional<int64_t> intermediate_size;    // null: from hidden_ratio 4 (docs/math/models.md §1.6)
  double initializer_range = 0.006;
};

std::vector<std::string> known_models();

// The config of a named model for a task with this vocabulary; throws for an unknown name,
// listing the known ones.
models::ModelConfig named_model_config(const std::string& name, int64_t vocab_size, const ModelShape& shape = {});

// Applies "key=value" overrides in order. A value is read as JSON when it parses (numbers,
// true/false, null, quoted strings) and as a bare string otherwise (attn_mode=chunk).
models::ModelConfig apply_overrides(const models::ModelConfig& config, const std::vector<std::string>& overrides);

}  // namespace hqlt::train
