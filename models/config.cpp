#include "models/config.h"

#include "engine/error.h"
#include "nn/gated_mlp.h"

namespace hqlt::models {

int64_t ModelConfig::key_dim() const {
  return model_type == ModelType::transformer ? hidden_size : int64_t(double(hidden_size) * expand_k);
}
int64_t ModelConfig::value_dim() const {
  return model_type == ModelType::transformer ? hidden_size : int64_t(double(hidden_size) * expand_v);
}
int64_t ModelConfig::head_k_dim() const { return key_dim() / num_heads; }
int64_t ModelConfig::head_v_dim() const { return value_dim() / num_heads; }
int64_t ModelConfig::kv_heads() const { return num_kv_heads.value_or(num_heads); }

int64_t ModelConfig::mlp_hidden() const {
  return nn::intermediate_size_for(hidden_size, hidden_ratio, intermediate_size);
}

int64_t ModelConfig::fw_block_size() const { return fw_block == FwBlock::reference_64 ? 64 : chunk_size; }

bool ModelConfig::is_attention_layer(int64_t layer) const {
  if (!attn) return false;
  for (int64_t i : attn->layers)
    if (i == layer) return true;
  return false;
}

ModelConfig ModelConfig::attention_layer_config() const {
  HQLT_CHECK(attn.has_value(), "attention_layer_config: the config has no 'attn' layers");
  ModelConfig c = default_config(ModelType::transformer);
  c.vocab_size = vocab_size;
  c.hidden_size = hidden_size;
  c.num_hidden_layers = num_hidden_layers;
  c.intermediate_size = intermediate_size;
  c.hidden_ratio = hidden_ratio;
  c.norm_eps = norm_eps;
  c.initializer_range = initializer_range;
  c.num_heads = attn->num_heads;
  c.num_kv_heads = attn->num_kv_heads;
  c.qkv_bias = attn->qkv_bias;
  c.window_size = attn->window_size;
  c.rope_theta = attn->rope_theta;
  return c;
}

namespace {

void validate_attention_layers(const AttentionLayers& a, int64_t hidden_size, int64_t num_layers) {
  HQLT_CHECK(!a.layers.empty(), "config: 'attn.layers' must list at least one layer index");
  for (size_t i = 0; i < a.layers.size(); ++i) {
    HQLT_CHECK(a.layers[i] >= 0 && a.layers[i] < num_layers, "config: 'attn.layers' holds ", a.layers[i],
               ", outside the ", num_layers, " layers [0, ", num_layers, ")");
    for (size_t j = 0; j < i; ++j)
      HQLT_CHECK(a.layers[j] != a.layers[i], "config: 'attn.layers' lists layer ", a.layers[i], " twice");
  }
  HQLT_CHECK(a.num_heads > 0, "config: 'attn.num_heads' must be a positive integer, got ", a.num_heads);
  HQLT_CHECK(hidden_size % a.num_heads == 0, "config: 'hidden_size' ", hidden_size,
             " is not divisible by 'attn.num_heads' ", a.num_heads);
  HQLT_CHECK((hidden_size / a.num_heads) % 2 == 0, "config: the attn head dim ", hidden_size / a.num_heads,
             " must be even for RoPE");
  const int64_t kv = a.num_kv_heads.value_or(a.num_heads);
  HQLT_CHECK(kv > 0 && a.num_heads % kv == 0, "config: 'attn.num_heads' ", a.num_heads,
             " is not a multiple of 'attn.num_kv_heads' ", kv);
  if (a.window_size)
    HQLT_CHECK(*a.window_size > 0, "config: 'attn.window_size' must be a positive integer, got ", *a.window_size);
  HQLT_CHECK(a.rope_theta > 0, "config: 'attn.rope_theta' must be positive, got ", a.rope_theta);
}

// No width of a layer may exceed 2^31: far beyond any model that fits in memory, and small enough
// that every product of two widths fits an int64.
void within_width_limit(const char* key, double width) {
  constexpr double kMaxWidth = double(int64_t(1) << 31);
  HQLT_CHECK(width <= kMaxWidth, "config: '", key, "' makes a layer ", width, " wide, more than the limit of ",
             int64_t(kMaxWidth));
}

}  // namespace

void ModelConfig::validate() const {
  auto positive = [](const char* key, int64_t v) {
    HQLT_CHECK(v > 0, "config: '", key, "' must be a positive integer, got ", v);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_heads", num_heads);
  HQLT_CHECK(hidden_act == "swish", "config: 'hidden_act' must be \"swish\", got \"", hidden_act, "\"");
  HQLT_CHECK(norm_eps > 0, "config: 'norm_eps' must be positive, got ", norm_eps);
  HQLT_CHECK(initializer_range > 0, "config: 'initializer_range' must be positive, got ", initializer_range);
  if (intermediate_size) positive("intermediate_size", *intermediate_size);
  HQLT_CHECK(intermediate_size || hidden_ratio > 0, "config: 'hidden_ratio' must be positive, got ", hidden_ratio);
  // The widths derived by a ratio are converted to integers; a ratio that makes them larger than
  // any tensor could hold is refused before the conversion (which would be undefined).
  within_width_limit("hidden_size", double(hidden_size));
  if (!intermediate_size) within_width_limit("hidden_ratio", double(hidden_size) * hidden_ratio);
  if (pad_token_id)
    HQLT_CHECK(*pad_token_id >= 0 && *pad_token_id < vocab_size, "config: 'pad_token_id' ", *pad_token_id,
               " is outside the vocabulary [0, ", vocab_size, ")");

  if (model_type == ModelType::transformer) {
    HQLT_CHECK(hidden_size % num_heads == 0, "config: 'hidden_size' ", hidden_size,
               " is not divisible by 'num_heads' ", num_heads);
    positive("num_kv_heads", kv_heads());
    HQLT_CHECK(num_heads % kv_heads() == 0, "config: 'num_heads' ", num_heads,
               " is not a multiple of 'num_kv_heads' ", kv_heads());
    HQLT_CHECK((hidden_size / num_heads) % 2 == 0, "config: the head dim ", hidden_size / num_heads,
               " must be even for RoPE");
    if (window_size) positive("window_size", *window_size);
    HQLT_CHECK(rope_theta > 0, "config: 'rope_theta' must be positive, got ", rope_theta);
    HQLT_CHECK(!attn, "config: 'attn' layers are for delta_net and hybrid_qlt (a transformer is attention throughout)");
    return;
  }

  const char* family = model_type_name(model_type);
  if (attn) validate_attention_layers(*attn, hidden_size, num_hidden_layers);
  HQLT_CHECK(expand_k > 0 && expand_v > 0, "config: 'expand_k' and 'expand_v' must be positive");
  within_width_limit("expand_k", double(hidden_size) * expand_k);
  within_width_limit("expand_v", double(hidden_size) * expand_v);
  HQLT_CHECK(key_dim() % num_heads == 0, "config: key_dim ", key_dim(), " is not divisible by 'num_heads' ",
             num_heads);
  HQLT_CHECK(value_dim() % num_heads == 0, "config: value_dim ", value_dim(), " is not divisible by 'num_heads' ",
             num_heads);
  if (use_short_conv) positive("conv_size", conv_size);

  if (model_type == ModelType::delta_net) {
    HQLT_CHECK(qk_activation == "silu" || qk_activation == "relu" || qk_activation == "elu" ||
                   qk_activation == "identity",
               "config: 'qk_activation' must be \"silu\", \"relu\", \"elu\" or \"identity\" for delta_net, got \"",
               qk_activation, "\"");
    HQLT_CHECK(qk_norm == "l2" || qk_norm == "sum", "config: 'qk_norm' must be \"l2\" or \"sum\" for delta_net, got \"",
               qk_norm, "\"");
    return;
  }

  HQLT_CHECK(qk_norm == "l2", "config: 'qk_norm' must be \"l2\" for ", family, ", got \"", qk_norm,
             "\" (the reference's \"sum\" is not defined for every hybrid mode)");

  // hybrid_qlt
  HQLT_CHECK(qk_activation == "identity", "config: 'qk_activation' must be \"identity\" for hybrid_qlt (the layer ",
             "asserts it; the class default \"silu\" is invalid), got \"", qk_activation, "\"");
  positive("chunk_size", chunk_size);
  HQLT_CHECK(!(use_memory_scaler && use_memory_gate),
             "config: 'use_memory_scaler' and 'use_memory_gate' are mutually exclusive");
  HQLT_CHECK(!use_memory_gate_separate || use_memory_gate,
             "config: 'use_memory_gate_separate' needs 'use_memory_gate' = true");
  if (use_local_pos_encoding)
    HQLT_CHECK(head_k_dim() % 2 == 0, "config: the key head dim ", head_k_dim(), " must be even for RoPE");
}

const ModelConfig& checked_config(const ModelConfig& c, ModelType expected, const char* layer) {
  HQLT_CHECK(c.model_type == expected, layer, ": expected a ", model_type_name(expected), " config, got ",
             model_type_name(c.model_type));
  c.validate();
  return c;
}

ModelConfig default_config(ModelType type) {
  ModelConfig c;
  c.model_type = type;
  switch (type) {
    case ModelType::transformer:
      c.num_heads = 32;
      c.initializer_range = 0.006;
      break;
    case ModelType::delta_net:
      c.num_heads = 16;
      c.initializer_range = 0.006;
      c.use_gate = false;
      c.qk_activation = "silu";
      break;
    case ModelType::hybrid_qlt:
      c.num_heads = 6;
      c.initializer_range = 0.02;
      c.use_gate = true;
      c.allow_neg_eigval = true;
      c.qk_activation = "silu";  // the class default, which validate() rejects: configs must say "identity"
      break;
  }
  return c;
}

const char* model_type_name(ModelType t) {
  switch (t) {
    case ModelType::transformer: return "transformer";
    case ModelType::delta_net: return "delta_net";
    case ModelType::hybrid_qlt: return "hybrid_qlt";
  }
  return "?";
}

const char* attn_mode_name(AttnMode m) {
  switch (m) {
    case AttnMode::sync_chunk: return "sync_chunk";
    case AttnMode::delayed: return "delayed";
    case AttnMode::chunk: return "chunk";
    case AttnMode::sync_chunk_linear: return "sync_chunk_linear";
  }
  return "?";
}

ModelType parse_model_type(const std::string& name) {
  for (ModelType t : {ModelType::transformer, ModelType::delta_net, ModelType::hybrid_qlt})
    if (name == model_type_name(t)) return t;
  fail("config: unknown model_type \"", name, "\" (known: transformer, delta_net, hybrid_qlt)");
}

AttnMode parse_attn_mode(const std::string& name) {
  for (AttnMode m : {AttnMode::sync_chunk, AttnMode::delayed, AttnMode::chunk, AttnMode::sync_chunk_linear})
    if (name == attn_mode_name(m)) return m;
  fail("config: unknown attn_mode \"", name, "\" (known: sync_chunk, delayed, chunk, sync_chunk_linear)");
}

}  // namespace hqlt::models
