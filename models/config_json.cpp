#include "models/config_json.h"

#include <cmath>
#include <functional>

#include "engine/error.h"

namespace hqlt::models {
namespace {

using io::Json;

// One config key: how to read it into a ModelConfig and how to write it back.
struct Key {
  const char* name;
  std::function<void(ModelConfig&, const Json&)> read;  // never called with null
  std::function<Json(const ModelConfig&)> write;
};

[[noreturn]] void wrong_type(const char* key, const char* wanted, const Json& got) {
  fail("config: '", key, "' must be ", wanted, ", got ", got.dump());
}

int64_t read_int(const char* key, const Json& j) {
  // 2048 or 2048.0; anything else (1024.5, "1024", true) is a type error.
  if (j.is_int()) return j.as_int();
  if (j.is_float() && std::isfinite(j.as_double()) && j.as_double() == std::floor(j.as_double()) &&
      std::abs(j.as_double()) < 9.2e18)
    return int64_t(j.as_double());
  wrong_type(key, "an integer", j);
}

double read_number(const char* key, const Json& j) {
  if (!j.is_number() || !std::isfinite(j.as_double())) wrong_type(key, "a finite number", j);
  return j.as_double();
}

bool read_bool(const char* key, const Json& j) {
  if (!j.is_bool()) wrong_type(key, "true or false", j);
  return j.as_bool();
}

const std::string& read_string(const char* key, const Json& j) {
  if (!j.is_string()) wrong_type(key, "a string", j);
  return j.as_string();
}

// ---- key factories over a ModelConfig member -------------------------------------------

Key int_key(const char* name, int64_t ModelConfig::*field) {
  return {name, [=](ModelConfig& c, const Json& j) { c.*field = read_int(name, j); },
          [=](const ModelConfig& c) { return Json(c.*field); }};
}

Key optional_int_key(const char* name, std::optional<int64_t> ModelConfig::*field) {
  return {name, [=](ModelConfig& c, const Json& j) { c.*field = read_int(name, j); },
          [=](const ModelConfig& c) { return (c.*field) ? Json(*(c.*field)) : Json(); }};
}

// The reference declares some numbers as ints (hidden_ratio 4, expand_k 1) and some as
// floats (rope_theta 10000.0): write each the way the reference class would.
Key number_key(const char* name, double ModelConfig::*field, bool integral_as_int) {
  return {name, [=](ModelConfig& c, const Json& j) { c.*field = read_number(name, j); },
          [=](const ModelConfig& c) {
            double v = c.*field;
            if (integral_as_int && v == std::floor(v) && std::abs(v) < 9.2e18) return Json(int64_t(v));
            return Json(v);
          }};
}

Key bool_key(const char* name, bool ModelConfig::*field) {
  return {name, [=](ModelConfig& c, const Json& j) { c.*field = read_bool(name, j); },
          [=](const ModelConfig& c) { return Json(c.*field); }};
}

Key string_key(const char* name, std::string ModelConfig::*field) {
  return {name, [=](ModelConfig& c, const Json& j) { c.*field = read_string(name, j); },
          [=](const ModelConfig& c) { return Json(c.*field); }};
}

// ---- keys whose meaning depends on the family ---------------------------------------------

Key hqlt_attn_mode_key() {
  return {"attn_mode",
          [](ModelConfig& c, const Json& j) {
            const std::string& mode = read_string("attn_mode", j);
            if (mode == "fused_recurrent" || mode == "fused_chunk")
              fail("config: attn_mode \"", mode, "\" raises an error in the reference hybrid_qlt layer (§5.9); ",
                   "use sync_chunk, delayed, chunk or sync_chunk_linear");
            c.attn_mode = parse_attn_mode(mode);
          },
          [](const ModelConfig& c) { return Json(attn_mode_name(c.attn_mode)); }};
}

// DeltaNet's attn_mode only picks a kernel; all of them compute §4.2.
Key delta_net_attn_mode_key() {
  return {"attn_mode",
          [](ModelConfig&, const Json& j) {
            const std::string& mode = read_string("attn_mode", j);
            if (mode != "chunk" && mode != "fused_chunk" && mode != "fused_recurrent")
              fail("config: unknown attn_mode \"", mode, "\" for delta_net (known: chunk, fused_chunk, fused_recurrent)");
          },
          [](const ModelConfig&) { return Json("chunk"); }};
}

Key transformer_qk_norm_key() {
  return {"qk_norm",
          [](ModelConfig& c, const Json& j) {
            if (!j.is_bool()) wrong_type("qk_norm", "true or false for transformer", j);
            c.transformer_qk_norm = j.as_bool();
          },
          [](const ModelConfig& c) { return Json(c.transformer_qk_norm); }};
}

Key linear_qk_norm_key() {
  return {"qk_norm",
          [](ModelConfig& c, const Json& j) {
            if (!j.is_string()) wrong_type("qk_norm", "a string (\"l2\") for delta_net and hybrid_qlt", j);
            c.qk_norm = j.as_string();
          },
          [](const ModelConfig& c) { return Json(c.qk_norm); }};
}

Key fw_block_key() {
  return {"hqlt_fw_block",
          [](ModelConfig& c, const Json& j) {
            const std::string& v = read_string("hqlt_fw_block", j);
            if (v == "reference_64") c.fw_block = FwBlock::reference_64;
            else if (v == "chunk_size") c.fw_block = FwBlock::chunk_size;
            else fail("config: 'hqlt_fw_block' must be \"reference_64\" or \"chunk_size\", got \"", v, "\"");
          },
          [](const ModelConfig& c) { return Json(c.fw_block == FwBlock::reference_64 ? "reference_64" : "chunk_size"); }};
}

Key linear_normalizer_key() {
  return {"hqlt_linear_normalizer",
          [](ModelConfig& c, const Json& j) {
            const std::string& v = read_string("hqlt_linear_normalizer", j);
            if (v == "reference_heads") c.linear_normalizer = LinearNormalizer::reference_heads;
            else if (v == "time") c.linear_normalizer = LinearNormalizer::time;
            else fail("config: 'hqlt_linear_normalizer' must be \"reference_heads\" or \"time\", got \"", v, "\"");
          },
          [](const ModelConfig& c) {
            return Json(c.linear_normalizer == LinearNormalizer::reference_heads ? "reference_heads" : "time");
          }};
}

// ---- the layer-wise hybrid's `attn` dict (§2) ---------------------------------------------

// The reference's defaults for a present dict: num_kv_heads = num_heads, no biases, full
// causal attention, θ = 10000; `layers` and `num_heads` are required. A key it does not know
// is an error here (the reference ignores it), so a typo cannot silently change the model.
AttentionLayers read_attention_layers(const Json& j) {
  if (!j.is_object()) wrong_type("attn", "an object or null", j);
  AttentionLayers a;
  bool has_layers = false, has_heads = false;
  for (const auto& [key, value] : j.as_object()) {
    if (key == "layers") {
      if (!value.is_array()) wrong_type("attn.layers", "a list of layer indices", value);
      for (const Json& i : value.as_array()) a.layers.push_back(read_int("attn.layers", i));
      has_layers = true;
    } else if (key == "num_heads") {
      a.num_heads = read_int("attn.num_heads", value);
      has_heads = true;
    } else if (key == "num_kv_heads") {
      if (!value.is_null()) a.num_kv_heads = read_int("attn.num_kv_heads", value);
    } else if (key == "qkv_bias") {
      a.qkv_bias = read_bool("attn.qkv_bias", value);
    } else if (key == "window_size") {
      if (!value.is_null()) a.window_size = read_int("attn.window_size", value);
    } else if (key == "rope_theta") {
      a.rope_theta = read_number("attn.rope_theta", value);
    } else {
      fail("config: unknown key 'attn.", key, "' (known: layers, num_heads, num_kv_heads, qkv_bias, window_size, ",
           "rope_theta)");
    }
  }
  HQLT_CHECK(has_layers, "config: 'attn' needs 'layers', the indices of its attention layers");
  HQLT_CHECK(has_heads, "config: 'attn' needs 'num_heads'");
  return a;
}

// Written as the reference's config class leaves the dict: every default filled in.
Json attention_layers_json(const AttentionLayers& a) {
  Json out = Json::object();
  Json::Array layers;
  for (int64_t i : a.layers) layers.push_back(Json(i));
  out.set("layers", Json(layers));
  out.set("num_heads", Json(a.num_heads));
  out.set("num_kv_heads", Json(a.num_kv_heads.value_or(a.num_heads)));
  out.set("qkv_bias", Json(a.qkv_bias));
  out.set("window_size", a.window_size ? Json(*a.window_size) : Json());
  out.set("rope_theta", Json(a.rope_theta));
  return out;
}

// ---- the keys of each family, in the order of the reference config class -------------------

std::vector<Key> family_keys(ModelType type) {
  using C = ModelConfig;
  switch (type) {
    case ModelType::transformer:
      return {int_key("hidden_size", &C::hidden_size),
              int_key("num_hidden_layers", &C::num_hidden_layers),
              int_key("num_heads", &C::num_heads),
              optional_int_key("num_kv_heads", &C::num_kv_heads),
              bool_key("qkv_bias", &C::qkv_bias),
              transformer_qk_norm_key(),
              optional_int_key("window_size", &C::window_size),
              number_key("rope_theta", &C::rope_theta, false),
              number_key("hidden_ratio", &C::hidden_ratio, true),
              optional_int_key("intermediate_size", &C::intermediate_size),
              string_key("hidden_act", &C::hidden_act),
              number_key("initializer_range", &C::initializer_range, false),
              number_key("norm_eps", &C::norm_eps, false),
              optional_int_key("pad_token_id", &C::pad_token_id),
              bool_key("tie_word_embeddings", &C::tie_word_embeddings),
              int_key("vocab_size", &C::vocab_size)};
    case ModelType::delta_net:
      return {delta_net_attn_mode_key(),
              int_key("hidden_size", &C::hidden_size),
              number_key("expand_k", &C::expand_k, true),
              number_key("expand_v", &C::expand_v, true),
              bool_key("use_gate", &C::use_gate),
              bool_key("use_short_conv", &C::use_short_conv),
              int_key("conv_size", &C::conv_size),
              bool_key("use_beta", &C::use_beta),
              int_key("num_heads", &C::num_heads),
              linear_qk_norm_key(),
              string_key("qk_activation", &C::qk_activation),
              number_key("hidden_ratio", &C::hidden_ratio, true),
              optional_int_key("intermediate_size", &C::intermediate_size),
              string_key("hidden_act", &C::hidden_act),
              int_key("num_hidden_layers", &C::num_hidden_layers),
              number_key("norm_eps", &C::norm_eps, false),
              optional_int_key("pad_token_id", &C::pad_token_id),
              bool_key("tie_word_embeddings", &C::tie_word_embeddings),
              number_key("initializer_range", &C::initializer_range, false),
              int_key("vocab_size", &C::vocab_size),
              bool_key("hqlt_neg_eigval", &C::delta_net_neg_eigval)};
    case ModelType::hybrid_qlt:
      return {hqlt_attn_mode_key(),
              int_key("hidden_size", &C::hidden_size),
              number_key("expand_k", &C::expand_k, true),
              number_key("expand_v", &C::expand_v, true),
              bool_key("use_gate", &C::use_gate),
              bool_key("use_short_conv", &C::use_short_conv),
              int_key("conv_size", &C::conv_size),
              bool_key("use_beta", &C::use_beta),
              bool_key("allow_neg_eigval", &C::allow_neg_eigval),
              int_key("num_heads", &C::num_heads),
              linear_qk_norm_key(),
              string_key("qk_activation", &C::qk_activation),
              int_key("chunk_size", &C::chunk_size),
              bool_key("use_local_pos_encoding", &C::use_local_pos_encoding),
              bool_key("use_memory_gate", &C::use_memory_gate),
              bool_key("use_memory_gate_separate", &C::use_memory_gate_separate),
              bool_key("use_memory_scaler", &C::use_memory_scaler),
              bool_key("use_memory_dynamic_scaler", &C::use_memory_dynamic_scaler),
              number_key("hidden_ratio", &C::hidden_ratio, true),
              optional_int_key("intermediate_size", &C::intermediate_size),
              string_key("hidden_act", &C::hidden_act),
              int_key("num_hidden_layers", &C::num_hidden_layers),
              number_key("norm_eps", &C::norm_eps, false),
              optional_int_key("pad_token_id", &C::pad_token_id),
              bool_key("tie_word_embeddings", &C::tie_word_embeddings),
              number_key("initializer_range", &C::initializer_range, false),
              int_key("vocab_size", &C::vocab_size),
              fw_block_key(),
              linear_normalizer_key()};
  }
  return {};
}

// Keys the reference writes that change nothing here (§5.9, §7.2), accepted silently.
bool is_ignored_key(ModelType type, const std::string& key) {
  static const char* const kAll[] = {
      "model_type", "architectures", "torch_dtype", "transformers_version", "_name_or_path", "use_cache",
      "bos_token_id", "eos_token_id", "max_position_embeddings", "fuse_norm", "fuse_swiglu", "fuse_cross_entropy",
      // hqlt's own HQLT options mean nothing for the other families
      "hqlt_fw_block", "hqlt_linear_normalizer", "hqlt_neg_eigval"};
  static const char* const kTransformer[] = {"attention_bias", "elementwise_affine"};
  static const char* const kDeltaNet[] = {"allow_neg_eigval", "use_output_norm", "head_dim", "attn"};
  static const char* const kHybrid[] = {"use_output_norm", "head_dim", "use_forgetting_gate", "conv_bias",
                                        "norm_first", "attn"};
  auto in = [&](const auto& list) {
    for (const char* k : list)
      if (key == k) return true;
    return false;
  };
  if (in(kAll)) return true;
  switch (type) {
    case ModelType::transformer: return in(kTransformer);
    case ModelType::delta_net: return in(kDeltaNet);
    case ModelType::hybrid_qlt: return in(kHybrid);
  }
  return false;
}

}  // namespace

const char* architecture_name(ModelType type) {
  switch (type) {
    case ModelType::transformer: return "TransformerForCausalLM";
    case ModelType::delta_net: return "DeltaNetForCausalLM";
    case ModelType::hybrid_qlt: return "HybridQLTForCausalLM";
  }
  return "?";
}

ConfigFromJson config_from_json(const Json& json) {
  HQLT_CHECK(json.is_object(), "config: expected a JSON object, got ", json.type_name());
  const Json* type_json = json.find("model_type");
  HQLT_CHECK(type_json && !type_json->is_null(),
             "config: missing 'model_type' (expected one of transformer, delta_net, hybrid_qlt)");
  const ModelType type = parse_model_type(read_string("model_type", *type_json));

  ConfigFromJson out;
  out.config = default_config(type);
  const std::vector<Key> keys = family_keys(type);
  for (const auto& [name, value] : json.as_object()) {
    const Key* key = nullptr;
    for (const Key& k : keys)
      if (name == k.name) key = &k;
    if (key) {
      if (!value.is_null()) key->read(out.config, value);  // null: the class default
      continue;
    }
    if (name == "attn" && !value.is_null() && type != ModelType::transformer) {
      out.config.attn = read_attention_layers(value);
      continue;
    }
    if (!is_ignored_key(type, name)) out.unknown_keys.push_back(name);
  }
  if (!out.unknown_keys.empty()) {
    out.warning = "config: ignoring " + std::to_string(out.unknown_keys.size()) + " unknown key(s) for " +
                  model_type_name(type) + ":";
    for (size_t i = 0; i < out.unknown_keys.size(); ++i)
      out.warning += (i ? ", '" : " '") + out.unknown_keys[i] + "'";
  }
  out.config.validate();
  return out;
}

Json config_to_json(const ModelConfig& config) {
  Json out = Json::object();
  for (const Key& k : family_keys(config.model_type)) out.set(k.name, k.write(config));
  if (config.attn) out.set("attn", attention_layers_json(*config.attn));
  out.set("model_type", model_type_name(config.model_type));
  out.set("architectures", Json(Json::Array{Json(architecture_name(config.model_type))}));
  out.set("torch_dtype", "float32");
  return out;
}

ConfigFromJson read_config_file(const std::string& path) {
  Json json = io::read_json_file(path);
  try {
    return config_from_json(json);
  } catch (const Error& e) {
    fail("'", path, "': ", e.what());
  }
}

void write_config_file(const std::string& path, const ModelConfig& config) {
  config.validate();
  io::write_json_file(path, config_to_json(config), 2);
}

}  // namespace hqlt::models
