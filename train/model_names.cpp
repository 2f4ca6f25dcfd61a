#include "train/model_names.h"

#include "engine/error.h"
#include "io/json.h"
#include "models/config_json.h"

namespace hqlt::train {

using models::AttnMode;
using models::ModelConfig;
using models::ModelType;

std::vector<std::string> known_models() {
  return {"transformer",        "delta_net",          "sync_hqlt",       "delayed_stream_hqlt",
          "delayed_chunk_hqlt", "sync_linear_hqlt",   "delta_net_attn"};
}

namespace {

// docs/math/tasks.md §A.7: the HQLT configuration main.py builds for the synthetic tasks.
ModelConfig hybrid(AttnMode mode) {
  ModelConfig c = models::default_config(ModelType::hybrid_qlt);
  c.attn_mode = mode;
  c.use_short_conv = true;
  c.conv_size = 4;
  c.allow_neg_eigval = true;
  c.use_memory_gate = true;
  c.qk_activation = "identity";
  c.qk_norm = "l2";
  c.use_gate = true;
  c.use_local_pos_encoding = false;
  return c;
}

}  // namespace

ModelConfig named_model_config(const std::string& name, int64_t vocab_size, const ModelShape& shape) {
  ModelConfig c;
  int64_t default_chunk = 8;
  if (name == "transformer") {
    c = models::default_config(ModelType::transformer);
  } else if (name == "delta_net" || name == "delta_net_attn") {
    c = models::default_config(ModelType::delta_net);
    c.use_short_conv = true;
    c.delta_net_neg_eigval = true;
  } else if (name == "sync_hqlt") {
    c = hybrid(AttnMode::sync_chunk);
  } else if (name == "delayed_stream_hqlt") {
    c = hybrid(AttnMode::delayed);
  } else if (name == "delayed_chunk_hqlt") {
    c = hybrid(AttnMode::chunk);
    default_chunk = 16;  // the paper's yaml for Delayed-Chunk (docs/math/tasks.md §A.9)
  } else if (name == "sync_linear_hqlt") {
    c = hybrid(AttnMode::sync_chunk_linear);
  } else {
    std::string list;
    for (const std::string& known : known_models()) list += (list.empty() ? "" : ", ") + known;
    fail("unknown model '", name, "'; known models: ", list);
  }
  c.vocab_size = vocab_size;
  c.hidden_size = shape.hidden_size;
  c.num_hidden_layers = shape.num_layers;
  c.num_heads = shape.num_heads;
  c.intermediate_size = shape.intermediate_size;
  c.initializer_range = shape.initializer_range;
  c.chunk_size = shape.chunk_size.value_or(default_chunk);
  if (name == "delta_net_attn") {
    // The layer-wise hybrid (docs/math/models.md §2): every second block (1, 3, ...) is
    // full causal softmax attention with the model's heads; the others are DeltaNet's.
    models::AttentionLayers attn;
    for (int64_t i = 1; i < c.num_hidden_layers; i += 2) attn.layers.push_back(i);
    attn.num_heads = c.num_heads;
    HQLT_CHECK(!attn.layers.empty(), "--model delta_net_attn needs at least 2 layers, got ", c.num_hidden_layers);
    c.attn = attn;
  }
  c.validate();
  return c;
}

ModelConfig apply_overrides(const ModelConfig& config, const std::vector<std::string>& overrides) {
  if (overrides.empty()) return config;
  io::Json json = models::config_to_json(config);
  for (const std::string& item : overrides) {
    const size_t eq = item.find('=');
    HQLT_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '", item, "'");
    const std::string key = item.substr(0, eq), text = item.substr(eq + 1);
    HQLT_CHECK(key != "model_type", "--set cannot change model_type; pick another --model");
    // `attn` is written only when set, so it may be new (the layer-wise hybrid, §2).
    const bool layerwise = key == "attn" && config.model_type != models::ModelType::transformer;
    HQLT_CHECK(json.find(key) != nullptr || layerwise, "--set: unknown config key '", key, "' for ",
               models::model_type_name(config.model_type));
    io::Json value;
    try {
      value = io::Json::parse(text);
    } catch (const Error&) {
      value = io::Json(text);  // a bare word: attn_mode=chunk
    }
    json.set(key, value);
  }
  try {
    return models::config_from_json(json).config;
  } catch (const Error& e) {
    fail("--set: ", e.what());
  }
}

}  // namespace hqlt::train
