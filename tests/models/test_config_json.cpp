// config.json <-> ModelConfig: round trips for every family, a hand-written reference-style
// file with missing keys (class defaults apply) and extra keys (ignored, unknown ones
// reported), one error per bad config, and every shipped paper config: it loads, has the
// options its name says, and the parameter count of its model — computed from the config,
// without allocating 1.3B parameters — is the one a plain formula gives; that count is
// cross-checked against real models built from the same configs scaled down.
#include <doctest/doctest.h>

#include <map>

#include "models/causal_lm.h"
#include "models/checkpoint.h"
#include "models/config_json.h"
#include "models/model_fixtures.h"

using namespace hqlt;
using namespace hqlt::models;
using hqlt::io::Json;

namespace {

// Every field of the struct, so a round trip can be compared whole.
void check_same_config(const ModelConfig& a, const ModelConfig& b) {
  CHECK(a.model_type == b.model_type);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.num_hidden_layers == b.num_hidden_layers);
  CHECK(a.num_heads == b.num_heads);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.hidden_ratio == b.hidden_ratio);
  CHECK(a.hidden_act == b.hidden_act);
  CHECK(a.norm_eps == b.norm_eps);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.initializer_range == b.initializer_range);
  CHECK(a.pad_token_id == b.pad_token_id);
  if (a.model_type == ModelType::transformer) {
    CHECK(a.num_kv_heads == b.num_kv_heads);
    CHECK(a.qkv_bias == b.qkv_bias);
    CHECK(a.transformer_qk_norm == b.transformer_qk_norm);
    CHECK(a.window_size == b.window_size);
    CHECK(a.rope_theta == b.rope_theta);
    return;
  }
  CHECK(a.expand_k == b.expand_k);
  CHECK(a.expand_v == b.expand_v);
  CHECK(a.use_gate == b.use_gate);
  CHECK(a.use_short_conv == b.use_short_conv);
  CHECK(a.conv_size == b.conv_size);
  CHECK(a.use_beta == b.use_beta);
  CHECK(a.qk_activation == b.qk_activation);
  CHECK(a.qk_norm == b.qk_norm);
  if (a.model_type == ModelType::delta_net) return;
  CHECK(a.attn_mode == b.attn_mode);
  CHECK(a.allow_neg_eigval == b.allow_neg_eigval);
  CHECK(a.chunk_size == b.chunk_size);
  CHECK(a.use_local_pos_encoding == b.use_local_pos_encoding);
  CHECK(a.use_memory_gate == b.use_memory_gate);
  CHECK(a.use_memory_gate_separate == b.use_memory_gate_separate);
  CHECK(a.use_memory_scaler == b.use_memory_scaler);
  CHECK(a.use_memory_dynamic_scaler == b.use_memory_dynamic_scaler);
  CHECK(a.fw_block == b.fw_block);
  CHECK(a.linear_normalizer == b.linear_normalizer);
}

ModelConfig parse(const std::string& text) { return config_from_json(Json::parse(text)).config; }

std::string config_error(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Non-default values everywhere the family allows.
std::vector<ModelConfig> unusual_configs() {
  ModelConfig t = default_config(ModelType::transformer);
  t.hidden_size = 96;
  t.num_heads = 6;
  t.num_kv_heads = 2;
  t.window_size = 17;
  t.rope_theta = 500000.5;
  t.intermediate_size = 200;
  t.norm_eps = 1e-5;
  t.tie_word_embeddings = true;
  t.pad_token_id = 0;
  t.vocab_size = 77;

  ModelConfig d = default_config(ModelType::delta_net);
  d.hidden_size = 64;
  d.num_heads = 4;
  d.expand_v = 2;
  d.use_gate = true;
  d.use_short_conv = false;
  d.conv_size = 3;
  d.use_beta = false;
  d.hidden_ratio = 3.5;
  d.initializer_range = 0.0123;

  std::vector<ModelConfig> out{t, d};
  for (AttnMode mode : {AttnMode::sync_chunk, AttnMode::delayed, AttnMode::chunk, AttnMode::sync_chunk_linear}) {
    ModelConfig h = default_config(ModelType::hybrid_qlt);
    h.qk_activation = "identity";
    h.attn_mode = mode;
    h.hidden_size = 48;
    h.num_heads = 3;
    h.expand_k = 0.5;
    h.chunk_size = mode == AttnMode::chunk ? 16 : 7;  // the fused Delayed-Chunk op takes powers of two
    h.use_local_pos_encoding = true;
    h.use_memory_gate = mode != AttnMode::delayed;
    h.use_memory_gate_separate = mode == AttnMode::chunk;
    h.use_memory_dynamic_scaler = mode == AttnMode::delayed;
    h.use_memory_scaler = mode == AttnMode::delayed;
    h.allow_neg_eigval = mode != AttnMode::sync_chunk;
    h.fw_block = FwBlock::chunk_size;
    h.linear_normalizer = LinearNormalizer::time;
    h.pad_token_id = 5;
    out.push_back(h);
  }
  return out;
}

// Independent of reference_parameter_shapes: the §7.1 counts, written as sums.
struct ShippedExpectation {
  const char* name;
  int64_t parameters;
};
const ShippedExpectation kShipped[] = {
    {"delayed-chunk_hqlt_ch64_dynamic-vector-mixing_noconv_1B", 1465750528},
    {"delayed-chunk_hqlt_ch64_dynamic-vector-mixing_noconv_340M", 399233024},
    {"delayed-stream_hqlt_ch64_dynamic-vector-mixing_noconv_1B", 1465750528},
    {"delayed-stream_hqlt_ch64_dynamic-vector-mixing_noconv_340M", 399233024},
    {"delta_net_1B", 1365677056},
    {"delta_net_340M", 374362112},
    {"delta_net_noconv_1B", 1365087232},
    {"delta_net_noconv_340M", 374067200},
    {"sync_hqlt_NoPos_ch1024_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_NoPos_ch64_dynamic-vector-mixing_noconv_1B", 1465750528},
    {"sync_hqlt_NoPos_ch64_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch1024_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch128_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch256_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch512_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch64_dynamic-scalar-mixing_noconv_340M", 374460416},
    {"sync_hqlt_ch64_dynamic-vector-mixing_noconv_1B", 1465750528},
    {"sync_hqlt_ch64_dynamic-vector-mixing_noconv_340M", 399233024},
    {"sync_hqlt_ch64_sum-mixing_noconv_340M", 374067200},
    {"sync_hqlt_linear-attn_ch64_dynamic-vector-mixing_noconv_340M", 399233024},
    {"transformer_1B", 1364297728},
    {"transformer_340M", 373867520},
};

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("config_json round trip for every family") {
    for (const ModelConfig& c : unusual_configs()) {
      const std::string family = model_type_name(c.model_type), mode = attn_mode_name(c.attn_mode);
      CAPTURE(family);
      CAPTURE(mode);
      Json j = config_to_json(c);
      CHECK(j.at("model_type").as_string() == model_type_name(c.model_type));
      CHECK(j.at("architectures").at(0).as_string() == architecture_name(c.model_type));
      ConfigFromJson back = config_from_json(Json::parse(j.dump(2)));
      CHECK(back.warning.empty());
      check_same_config(back.config, c);
      CHECK(config_to_json(back.config) == j);
    }
    // The written keys of each family, with the reference's types.
    Json t = config_to_json(unusual_configs()[0]);
    CHECK(t.at("qk_norm").is_bool());
    CHECK(t.at("rope_theta").is_float());
    CHECK(t.at("hidden_ratio").is_int());  // 4, as the reference writes it
    CHECK_FALSE(t.contains("chunk_size"));
    Json d = config_to_json(unusual_configs()[1]);
    CHECK(d.at("qk_norm").as_string() == "l2");
    CHECK(d.at("hidden_ratio").as_double() == 3.5);
    CHECK(d.at("intermediate_size").is_null());
    CHECK_FALSE(d.contains("hqlt_fw_block"));
    Json h = config_to_json(unusual_configs()[2]);
    CHECK(h.at("hqlt_fw_block").as_string() == "chunk_size");
    CHECK(h.at("hqlt_linear_normalizer").as_string() == "time");
    CHECK(h.at("expand_k").as_double() == 0.5);
    CHECK(h.at("expand_v").is_int());

    // Through a file.
    hqlt::testing::TempDir dir("config_file");
    ModelConfig c = unusual_configs()[3];
    write_config_file(dir.file("config.json"), c);
    check_same_config(read_config_file(dir.file("config.json")).config, c);
  }

  TEST_CASE("config_json reads reference-style files with missing and extra keys") {
    // A hybrid_qlt file that leaves most keys out: the HybridQLT class defaults apply.
    ConfigFromJson h = config_from_json(Json::parse(R"({
      "architectures": ["HybridQLTForCausalLM"], "torch_dtype": "float32", "transformers_version": "4.48.0",
      "model_type": "hybrid_qlt", "qk_activation": "identity", "hidden_size": 1024, "num_heads": 8,
      "use_cache": true, "bos_token_id": 1, "eos_token_id": 2, "fuse_norm": true, "fuse_swiglu": true,
      "fuse_cross_entropy": true, "max_position_embeddings": 2048, "use_output_norm": true, "head_dim": null,
      "use_forgetting_gate": false, "conv_bias": false, "norm_first": false, "attn": null,
      "intermediate_size": null, "pad_token_id": null,
      "num_head": 4, "my_note": "hi"})"));
    const ModelConfig& c = h.config;
    CHECK(c.model_type == ModelType::hybrid_qlt);
    CHECK(c.hidden_size == 1024);
    CHECK(c.num_heads == 8);
    CHECK(c.attn_mode == AttnMode::chunk);
    CHECK(c.num_hidden_layers == 24);
    CHECK(c.chunk_size == 64);
    CHECK(c.use_gate);             // class default true
    CHECK(c.allow_neg_eigval);     // class default true
    CHECK(c.use_short_conv);
    CHECK_FALSE(c.use_local_pos_encoding);
    CHECK_FALSE(c.use_memory_gate);
    CHECK(c.initializer_range == 0.02);
    CHECK(c.vocab_size == 32000);
    CHECK(c.norm_eps == 1e-6);
    CHECK_FALSE(c.intermediate_size.has_value());
    CHECK(c.mlp_hidden() == 2816);
    CHECK(c.fw_block == FwBlock::reference_64);  // no hqlt_* keys: reference behaviour
    CHECK(c.linear_normalizer == LinearNormalizer::reference_heads);
    CHECK(h.unknown_keys == std::vector<std::string>{"num_head", "my_note"});
    CHECK(h.warning == "config: ignoring 2 unknown key(s) for hybrid_qlt: 'num_head', 'my_note'");

    // transformer and delta_net: their own class defaults (initializer_range 0.006).
    ConfigFromJson t = config_from_json(Json::parse(
        R"({"model_type": "transformer", "qk_norm": false, "attention_bias": false, "elementwise_affine": true,
            "max_position_embeddings": 8192, "rope_theta": null})"));
    CHECK(t.warning.empty());
    CHECK(t.config.num_heads == 32);
    CHECK(t.config.initializer_range == 0.006);
    CHECK(t.config.rope_theta == 10000);
    CHECK_FALSE(t.config.num_kv_heads.has_value());
    ConfigFromJson d = config_from_json(Json::parse(
        R"({"model_type": "delta_net", "attn_mode": "fused_recurrent", "allow_neg_eigval": true,
            "use_output_norm": true, "chunk_size": 64})"));
    CHECK(d.config.num_heads == 16);
    CHECK(d.config.initializer_range == 0.006);
    CHECK_FALSE(d.config.use_gate);
    CHECK(d.config.qk_activation == "silu");
    CHECK(d.unknown_keys == std::vector<std::string>{"chunk_size"});  // not a delta_net key
    // Integral floats are integers; hqlt's own keys are read.
    ModelConfig f = parse(R"({"model_type": "hybrid_qlt", "qk_activation": "identity", "hidden_size": 64.0,
                             "num_heads": 4, "hqlt_fw_block": "chunk_size", "hqlt_linear_normalizer": "time"})");
    CHECK(f.hidden_size == 64);
    CHECK(f.fw_block == FwBlock::chunk_size);
    CHECK(f.linear_normalizer == LinearNormalizer::time);
  }

  TEST_CASE("config_json refuses bad configs by key") {
    const std::string hq = R"("model_type": "hybrid_qlt", "qk_activation": "identity", "hidden_size": 64, "num_heads": 4)";
    auto hybrid = [&](const std::string& extra) { return config_error("{" + hq + ", " + extra + "}"); };
    CHECK(has(config_error(R"({"model_type": "mamba"})"), "unknown model_type \"mamba\""));
    CHECK(has(config_error(R"({"hidden_size": 64})"), "missing 'model_type'"));
    CHECK(has(config_error(R"({"model_type": 3})"), "'model_type' must be a string"));
    CHECK(has(config_error("[1, 2]"), "expected a JSON object"));
    CHECK(has(hybrid(R"("attn_mode": "parallel")"), "unknown attn_mode \"parallel\""));
    CHECK(has(hybrid(R"("attn_mode": "fused_recurrent")"), "attn_mode \"fused_recurrent\""));
    CHECK(has(config_error(R"({"model_type": "delta_net", "attn_mode": "sync_chunk"})"),
              "unknown attn_mode \"sync_chunk\" for delta_net"));
    // Wrong value types.
    CHECK(has(config_error(R"({"model_type": "delta_net", "hidden_size": "1024"})"),
              "'hidden_size' must be an integer, got \"1024\""));
    CHECK(has(hybrid(R"("num_hidden_layers": 2.5)"), "'num_hidden_layers' must be an integer, got 2.5"));
    CHECK(has(hybrid(R"("conv_size": true)"), "'conv_size' must be an integer"));
    CHECK(has(hybrid(R"("use_gate": 1)"), "'use_gate' must be true or false"));
    CHECK(has(hybrid(R"("norm_eps": "1e-6")"), "'norm_eps' must be a finite number"));
    CHECK(has(hybrid(R"("qk_norm": true)"), "'qk_norm' must be a string"));
    CHECK(has(config_error(R"({"model_type": "transformer", "qk_norm": "l2"})"),
              "'qk_norm' must be true or false for transformer"));
    CHECK(has(config_error(R"({"model_type": "delta_net", "qk_activation": "gelu"})"),
              "'qk_activation' must be \"silu\", \"relu\", \"elu\" or \"identity\" for delta_net"));
    CHECK(has(config_error(R"({"model_type": "delta_net", "qk_norm": "max"})"),
              "'qk_norm' must be \"l2\" or \"sum\" for delta_net"));
    CHECK(has(hybrid(R"("qk_norm": "sum")"), "'qk_norm' must be \"l2\" for hybrid_qlt"));
    CHECK(has(hybrid(R"("hqlt_fw_block": "32")"), "'hqlt_fw_block' must be"));
    CHECK(has(hybrid(R"("hqlt_linear_normalizer": "heads")"), "'hqlt_linear_normalizer' must be"));
    CHECK(has(hybrid(R"("attn": {"layers": [24], "num_heads": 4})"), "'attn.layers' holds 24, outside the 24 layers"));
    // Sizes.
    CHECK(has(hybrid(R"("num_hidden_layers": -2)"), "'num_hidden_layers' must be a positive integer, got -2"));
    CHECK(has(hybrid(R"("chunk_size": 0)"), "'chunk_size' must be a positive integer"));
    CHECK(has(hybrid(R"("vocab_size": 10, "pad_token_id": 10)"), "'pad_token_id'"));
    // Widths too large for any tensor, refused before they are converted to integers.
    CHECK(has(hybrid(R"("expand_k": 1e50)"), "'expand_k' makes a layer"));
    CHECK(has(hybrid(R"("expand_v": 1e300)"), "'expand_v' makes a layer"));
    CHECK(has(hybrid(R"("hidden_ratio": 1e40)"), "'hidden_ratio' makes a layer"));
    CHECK(has(config_error(R"({"model_type": "delta_net", "hidden_size": 4611686018427387904})"),
              "'hidden_size' makes a layer"));
    // Invalid combinations.
    CHECK(has(config_error(R"({"model_type": "hybrid_qlt", "qk_activation": "identity"})"),
              "key_dim 2048 is not divisible by 'num_heads' 6"));  // the bare class defaults
    CHECK(has(hybrid(R"("use_memory_gate": true, "use_memory_scaler": true)"), "mutually exclusive"));
    CHECK(has(hybrid(R"("use_memory_gate_separate": true)"), "'use_memory_gate_separate' needs"));
    CHECK(has(config_error(R"({"model_type": "hybrid_qlt", "hidden_size": 64, "num_heads": 4})"),
              "'qk_activation' must be \"identity\""));
    CHECK(has(config_error(R"({"model_type": "transformer", "num_heads": 10, "hidden_size": 70})"), "even for RoPE"));
    CHECK(has(config_error(R"({"model_type": "transformer", "num_kv_heads": 5})"), "'num_kv_heads'"));
    CHECK_THROWS_WITH_AS(config_from_json(Json::parse(R"({"model_type": "mamba"})")),
                         doctest::Contains("model_type"), Error);

    // A file's errors name the file.
    hqlt::testing::TempDir dir("config_bad");
    io::write_json_file(dir.file("config.json"), Json::parse(R"({"model_type": "hybrid_qlt", "chunk_size": "x"})"));
    CHECK_THROWS_WITH_AS(read_config_file(dir.file("config.json")), doctest::Contains("config.json': config: 'chunk_size'"),
                         Error);
    CHECK_THROWS_WITH_AS(read_config_file(dir.file("absent.json")), doctest::Contains("absent.json"), Error);
  }

  TEST_CASE("config_json: every shipped paper config loads with the options its name says") {
    std::vector<std::string> names = hqlt::testing::shipped_config_names();
    REQUIRE(names.size() == std::size(kShipped));
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& name = names[i];
      CAPTURE(name);
      REQUIRE(name == kShipped[i].name);
      ConfigFromJson parsed = config_from_json(hqlt::testing::shipped_config_json(name));
      CHECK(parsed.warning.empty());
      const ModelConfig& c = parsed.config;
      const bool big = has(name, "_1B");
      CHECK(c.hidden_size == (big ? 2048 : 1024));
      CHECK(c.num_hidden_layers == 24);
      CHECK(c.vocab_size == 32000);
      CHECK(c.norm_eps == 1e-6);
      CHECK(c.initializer_range == 0.02);
      CHECK(c.hidden_ratio == 4);
      CHECK(c.mlp_hidden() == (big ? 5632 : 2816));
      CHECK_FALSE(c.tie_word_embeddings);
      CHECK(c.pad_token_id == (big ? std::optional<int64_t>(2) : std::nullopt));
      if (has(name, "transformer")) {
        CHECK(c.model_type == ModelType::transformer);
        CHECK(c.num_heads == (big ? 32 : 16));
        CHECK(c.hidden_size / c.num_heads == 64);
        CHECK_FALSE(c.window_size.has_value());
      } else {
        CHECK(c.num_heads == (big ? 16 : 8));
        CHECK(c.head_k_dim() == 128);
        CHECK_FALSE(c.use_gate);
        CHECK(c.use_beta);
        CHECK(c.qk_norm == "l2");
        CHECK(c.expand_k == 1);
        CHECK(c.expand_v == 1);
        CHECK(c.use_short_conv == (has(name, "delta_net") && !has(name, "noconv")));
      }
      if (has(name, "delta_net")) {
        CHECK(c.model_type == ModelType::delta_net);
        CHECK(c.qk_activation == "silu");
      }
      if (has(name, "hqlt")) {
        CHECK(c.model_type == ModelType::hybrid_qlt);
        CHECK(c.qk_activation == "identity");
        CHECK(c.allow_neg_eigval);  // no key in the files: the class default
        const AttnMode mode = has(name, "linear-attn")      ? AttnMode::sync_chunk_linear
                              : has(name, "delayed-stream") ? AttnMode::delayed
                              : has(name, "delayed-chunk")  ? AttnMode::chunk
                                                            : AttnMode::sync_chunk;
        CHECK(c.attn_mode == mode);
        const int64_t C = has(name, "ch1024") ? 1024 : has(name, "ch512") ? 512 : has(name, "ch256") ? 256
                          : has(name, "ch128")                              ? 128 : 64;
        CHECK(c.chunk_size == C);
        CHECK(c.use_local_pos_encoding == !has(name, "NoPos"));
        CHECK(c.use_memory_gate == has(name, "dynamic-vector"));
        CHECK(c.use_memory_dynamic_scaler == has(name, "dynamic-scalar"));
        CHECK_FALSE(c.use_memory_gate_separate);
        CHECK_FALSE(c.use_memory_scaler);
        CHECK(c.fw_block == FwBlock::reference_64);
      }
      // The size, from the config alone.
      const int64_t n = reference_num_parameters(c);
      CHECK(n == kShipped[i].parameters);
      if (big) CHECK((n > 1'300'000'000 && n < 1'500'000'000));
      else CHECK((n > 340'000'000 && n < 410'000'000));
    }
  }

  TEST_CASE("config_json: the analytic layout matches real models built from the shipped configs scaled down") {
    // Plus the options no shipped config uses, so every row of §7.1 is exercised.
    std::vector<std::pair<std::string, ModelConfig>> cases;
    for (const std::string& name : hqlt::testing::shipped_config_names())
      cases.emplace_back(name, hqlt::testing::tiny_config(name));
    ModelConfig extra = hqlt::testing::tiny_config("sync_hqlt_ch64_dynamic-vector-mixing_noconv_340M");
    extra.use_short_conv = true;
    extra.use_gate = true;
    extra.use_memory_gate_separate = true;
    extra.use_memory_dynamic_scaler = true;
    extra.tie_word_embeddings = true;
    cases.emplace_back("hybrid with conv, output gate, two gates, tied", extra);
    ModelConfig scaler = hqlt::testing::tiny_config("sync_hqlt_ch64_sum-mixing_noconv_340M");
    scaler.use_memory_scaler = true;
    scaler.use_beta = false;
    cases.emplace_back("hybrid with static scalars, no beta", scaler);
    ModelConfig gqa = hqlt::testing::tiny_config("transformer_340M");
    gqa.num_kv_heads = 2;
    cases.emplace_back("transformer with GQA", gqa);
    ModelConfig biased = gqa;
    biased.qkv_bias = true;
    biased.transformer_qk_norm = true;
    cases.emplace_back("transformer with GQA, qkv biases and qk_norm", biased);

    for (const auto& [label, config] : cases) {
      const auto label_value = label;  // a copy: clang 14 cannot capture a structured binding
      INFO("label = " << label_value);
      Generator gen{7, 0};
      CausalLM model(config, gen);
      std::map<std::string, Shape> real, analytic;
      for (const auto& [name, p] : model.named_parameters()) real.emplace(name, p.shape());
      for (const auto& [name, shape] : reference_parameter_shapes(config)) analytic.emplace(name, shape);
      CHECK(real == analytic);
      CHECK(model.num_parameters() == reference_num_parameters(config));
    }
  }
}
