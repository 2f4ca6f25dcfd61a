#pragma once
// ModelConfig <-> config.json, in the Hugging Face layout the reference writes
// (docs/math/models.md §7, §7.2): one JSON object holding every config attribute of the
// family's class, plus `model_type`, `architectures` and `torch_dtype`.
//
// Reading (config_from_json):
//   * `model_type` picks the family (transformer | delta_net | hybrid_qlt) and its class
//     defaults (default_config); a key that is absent or null keeps the class default.
//   * Each key is read with the type the reference class gives it. Note `qk_norm`: a bool
//     for transformer, a string ("l2") for delta_net and hybrid_qlt. `attn_mode` names the
//     HQLT variant (sync_chunk, delayed, chunk, sync_chunk_linear); for delta_net it is a
//     kernel choice with the same math (chunk, fused_chunk, fused_recurrent) and is ignored.
//   * Keys the reference stores but that change nothing here (§5.9, §7.2: architectures,
//     torch_dtype, use_cache, bos/eos_token_id, max_position_embeddings, fuse_*, ...) are
//     accepted silently. Any other key is accepted too — Hugging Face configs carry many —
//     and listed in `warning`, so a typo such as "num_head" does not pass unnoticed.
//   * hqlt's own options: `hqlt_fw_block` ("reference_64" | "chunk_size", §5.5) and
//     `hqlt_linear_normalizer` ("reference_heads" | "time", §5.6). A reference config has
//     neither, which means the reference-exact behaviour.
//   * A value of the wrong type, an unknown model_type / attn_mode, or a combination that
//     validate() refuses throws one hqlt::Error naming the key.
//
// Writing (config_to_json): every key of the family with its value, in the order of the
// reference class, then model_type, architectures (["HybridQLTForCausalLM"], ...),
// torch_dtype ("float32") and, for hybrid_qlt, the two hqlt_* options. Reading what was
// written gives the same config back.
#include <string>
#include <vector>

#include "io/json.h"
#include "models/config.h"

namespace hqlt::models {

struct ConfigFromJson {
  ModelConfig config;
  std::vector<std::string> unknown_keys;  // in file order
  std::string warning;                    // "" when unknown_keys is empty
};

ConfigFromJson config_from_json(const io::Json& json);
io::Json config_to_json(const ModelConfig& config);

// The class name the reference registers for a family: "HybridQLTForCausalLM", ...
const char* architecture_name(ModelType type);

// Files. Errors name the path; write is atomic (io/atomic_file.h).
ConfigFromJson read_config_file(const std::string& path);
void write_config_file(const std::string& path, const ModelConfig& config);

}  // namespace hqlt::models
