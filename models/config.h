#pragma once
// ModelConfig: every config key that changes the math of the three model families, with the
// reference classes' defaults (docs/math/models.md §7.2), plus hqlt's own options where the
// reference code does something surprising (§5.5, §5.6, §9). Reading and writing the
// Hugging Face `config.json` is in config_json.h; this file is only the values, their
// defaults, what follows from them, and which combinations are valid.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hqlt::models {

enum class ModelType { transformer, delta_net, hybrid_qlt };

// The HQLT variants (config key `attn_mode`, §5.3–5.6).
enum class AttnMode {
  sync_chunk,         // Synchronous: sliding-window attention + delta rule over all tokens
  delayed,            // Delayed-Stream: keys/values enter the fast weights C steps late
  chunk,              // Delayed-Chunk: within-chunk attention + read of previous FW blocks
  sync_chunk_linear,  // Synchronous with linear attention (elu+1) as the FW memory
};

// Delayed-Chunk's FW read block (§5.5). The reference reads the fast weights at fixed
// 64-token block starts whatever chunk_size is; the paper's definition uses chunk_size.
enum class FwBlock { reference_64, chunk_size };
// The linear-attention normaliser (§5.6). The reference sums keys over heads (a bug);
// standard linear attention sums over time.
enum class LinearNormalizer { reference_heads, time };

// A layer-wise hybrid (config key `attn`, §2): at the listed layer indices the block's
// token mixer is the Transformer's softmax attention (§3) with these heads, kv heads, biases,
// window and RoPE base, never qk_norm; every other layer keeps the family's mixer.
struct AttentionLayers {
  std::vector<int64_t> layers;          // 0-based, distinct, each < num_hidden_layers
  int64_t num_heads = 0;                // required; head dim = hidden_size / num_heads
  std::optional<int64_t> num_kv_heads;  // null: num_heads
  bool qkv_bias = false;
  std::optional<int64_t> window_size;   // null: full causal attention
  double rope_theta = 10000;
};

struct ModelConfig {
  ModelType model_type = ModelType::hybrid_qlt;

  // Shared by all three families.
  int64_t vocab_size = 32000;
  int64_t hidden_size = 2048;
  int64_t num_hidden_layers = 24;
  int64_t num_heads = 6;
  std::optional<int64_t> intermediate_size;  // null: derived from hidden_ratio (§1.6)
  double hidden_ratio = 4;
  std::string hidden_act = "swish";
  double norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  double initializer_range = 0.02;
  std::optional<int64_t> pad_token_id;

  // Transformer (§3).
  std::optional<int64_t> num_kv_heads;  // null: num_heads
  bool qkv_bias = false;
  bool transformer_qk_norm = false;     // JSON key `qk_norm` (a bool for this family)
  std::optional<int64_t> window_size;   // null: full causal attention
  double rope_theta = 10000;

  // DeltaNet and HQLT (§4, §5).
  AttnMode attn_mode = AttnMode::chunk;  // HQLT only; DeltaNet's `attn_mode` is a kernel choice
  double expand_k = 1, expand_v = 1;
  bool use_gate = true;
  bool use_short_conv = true;
  int64_t conv_size = 4;
  bool use_beta = true;
  std::string qk_activation = "silu";
  std::string qk_norm = "l2";
  bool allow_neg_eigval = true;  // HQLT: β ×2; ignored by DeltaNet (§4.1)
  int64_t chunk_size = 64;       // HQLT: window / delay / chunk length C
  bool use_local_pos_encoding = false;
  bool use_memory_gate = false;
  bool use_memory_gate_separate = false;
  bool use_memory_scaler = false;
  bool use_memory_dynamic_scaler = false;

  // hqlt's own options (saved in config.json under `hqlt_*` keys; absent = reference).
  FwBlock fw_block = FwBlock::reference_64;
  LinearNormalizer linear_normalizer = LinearNormalizer::reference_heads;
  // DeltaNet with β ∈ (0, 2) (key `hqlt_neg_eigval`). The reference DeltaNet model never
  // passes allow_neg_eigval to its layer (§4.1), so its β stays in (0, 1); the paper's parity
  // baseline ("DeltaNet with negative eigenvalues") needs the doubled β, as HQLT has it.
  bool delta_net_neg_eigval = false;

  // delta_net and hybrid_qlt: softmax-attention layers interleaved into the stack (null in
  // every paper config).
  std::optional<AttentionLayers> attn;

  // ---- what follows from the keys -----------------------------------------------------
  int64_t key_dim() const;        // int(hidden_size * expand_k) (transformer: hidden_size)
  int64_t value_dim() const;      // int(hidden_size * expand_v) (transformer: hidden_size)
  int64_t head_k_dim() const;     // key_dim / num_heads
  int64_t head_v_dim() const;     // value_dim / num_heads
  int64_t kv_heads() const;       // transformer: num_kv_heads or num_heads
  int64_t mlp_hidden() const;     // intermediate size rule of §1.6
  int64_t fw_block_size() const;  // Delayed-Chunk FW read block: 64 or chunk_size
  bool is_attention_layer(int64_t layer) const;  // listed in attn.layers
  // The Transformer-family config that builds an attn layer's mixer.
  ModelConfig attention_layer_config() const;
  // Throws hqlt::Error naming the first invalid key or combination.
  void validate() const;
};

// c itself after checking that it is a valid config of family `expected`; `layer` names the
// caller in the error ("HQLTLayer: expected a hybrid_qlt config, got delta_net").
const ModelConfig& checked_config(const ModelConfig& c, ModelType expected, const char* layer);

// The reference class defaults for a family (§7.2): e.g. initializer_range 0.006 for
// transformer and delta_net, 0.02 for hybrid_qlt; num_heads 32 / 16 / 6.
ModelConfig default_config(ModelType type);

const char* model_type_name(ModelType t);
const char* attn_mode_name(AttnMode m);
ModelType parse_model_type(const std::string& name);  // throws listing the known names
AttnMode parse_attn_mode(const std::string& name);

}  // namespace hqlt::models
