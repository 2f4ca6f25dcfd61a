// Layer-wise hybrids (docs/math/models.md §2, the `attn` config): softmax-attention layers at
// the listed indices of a DeltaNet or HQLT stack. Which blocks get which mixer, the attention
// layer's forward against the plain loop with attn's own heads, window and RoPE base, the
// parameter names of a reference checkpoint, config.json round trips and every malformed
// `attn` as one error naming the key. The model-level checks (gradcheck, fused vs reference,
// causality, decoding) run on the two layer-wise variants of all_variants().
#include <doctest/doctest.h>

#include "io/json.h"
#include "model_fixtures.h"
#include "model_test_utils.h"
#include "models/checkpoint.h"
#include "models/config_json.h"
#include "models/delta_net_layer.h"
#include "models/hqlt_layer.h"
#include "naive_mixers.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

ModelConfig delta_net_with_attention() {
  return variant("delta_net, attention at layer 1 (4 heads, GQA 2, bias, window 5)").config;
}

std::string config_error(const std::string& text) {
  try {
    config_from_json(io::Json::parse(text));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* const kDeltaNet = R"("model_type": "delta_net", "hidden_size": 16, "num_heads": 2, "num_hidden_layers": 3)";

std::string with_attn(const std::string& attn) { return std::string("{") + kDeltaNet + R"(, "attn": )" + attn + "}"; }

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("layer-wise hybrid: the listed blocks get softmax attention with attn's shape") {
    auto model = make_model(delta_net_with_attention());
    auto* first = dynamic_cast<DeltaNetLayer*>(model->model->layer(0).attn.get());
    auto* second = dynamic_cast<TransformerAttention*>(model->model->layer(1).attn.get());
    REQUIRE(first != nullptr);
    REQUIRE(second != nullptr);
    CHECK(second->num_heads == 4);
    CHECK(second->num_kv_heads == 2);
    CHECK(second->head_dim == 4);  // hidden_size / attn.num_heads
    CHECK(second->window == 5);
    CHECK(second->q_proj->bias != nullptr);
    CHECK(second->q_norm == nullptr);  // never qk_norm (§2)

    // The attention block computes §3 with attn's heads, window and θ.
    const int64_t batch = 2, time = 9;
    Generator gen{3, 0};
    Tensor x = randn({batch, time, 16}, DType::f64, Device::cpu, 0.0, 1.0, gen);
    std::vector<double> want = naive::transformer_attention(*second, x.to_vector(), batch, time, 500.0);
    CHECK(hqlt::testing::max_error(second->forward(x), from_vector(want, {batch, time, 16}, DType::f64)) <= 1e-10);

    ModelConfig hybrid = variant("hqlt sync_chunk, attention at layer 0").config;
    auto h = make_model(hybrid);
    CHECK(dynamic_cast<TransformerAttention*>(h->model->layer(0).attn.get()) != nullptr);
    CHECK(dynamic_cast<HQLTLayer*>(h->model->layer(1).attn.get()) != nullptr);
  }

  TEST_CASE("layer-wise hybrid: parameter names and shapes are the reference's") {
    for (const char* name : {"delta_net, attention at layer 1 (4 heads, GQA 2, bias, window 5)",
                             "hqlt sync_chunk, attention at layer 0"}) {
      CAPTURE(name);
      const ModelConfig& c = variant(name).config;
      auto model = make_model(c);
      std::map<std::string, Shape> real, analytic;
      for (const auto& [n, p] : model->named_parameters()) real.emplace(n, p.shape());
      for (const auto& [n, shape] : reference_parameter_shapes(c)) analytic.emplace(n, shape);
      CHECK(real == analytic);
    }
    const ModelConfig c = delta_net_with_attention();
    std::map<std::string, Shape> shapes;
    for (const auto& [n, shape] : reference_parameter_shapes(c)) shapes.emplace(n, shape);
    CHECK(shapes.at("model.layers.1.attn.k_proj.weight") == Shape{8, 16});  // 2 kv heads × 4
    CHECK(shapes.at("model.layers.1.attn.v_proj.bias") == Shape{8});
    CHECK(shapes.count("model.layers.0.attn.b_proj.weight") == 1);
    CHECK(shapes.count("model.layers.1.attn.b_proj.weight") == 0);
  }

  TEST_CASE("layer-wise hybrid: config.json and the checkpoint round-trip") {
    const ModelConfig c = delta_net_with_attention();
    io::Json json = config_to_json(c);
    const io::Json& attn = *json.find("attn");
    CHECK(attn.find("num_kv_heads")->as_int() == 2);
    CHECK(attn.find("window_size")->as_int() == 5);
    ModelConfig back = config_from_json(json).config;
    REQUIRE(back.attn.has_value());
    CHECK(back.attn->layers == std::vector<int64_t>{1});
    CHECK(back.attn->qkv_bias);
    CHECK(back.attn->rope_theta == 500);
    CHECK(config_to_json(back) == json);

    // The reference's defaults for the keys a dict leaves out.
    ModelConfig d = config_from_json(io::Json::parse(with_attn(R"({"layers": [0, 2], "num_heads": 4})"))).config;
    REQUIRE(d.attn.has_value());
    CHECK(d.attn->num_kv_heads.value_or(4) == 4);
    CHECK_FALSE(d.attn->qkv_bias);
    CHECK_FALSE(d.attn->window_size.has_value());
    CHECK(d.attn->rope_theta == 10000);
    CHECK(d.is_attention_layer(0));
    CHECK_FALSE(d.is_attention_layer(1));
    CHECK(d.is_attention_layer(2));
    // No attn, or attn null: none written, as in the paper's configs.
    CHECK(config_to_json(tiny_config(ModelType::delta_net)).find("attn") == nullptr);
    CHECK_FALSE(config_from_json(io::Json::parse(with_attn("null"))).config.attn.has_value());

    hqlt::testing::TempDir tmp("layerwise");
    Generator gen{2, 0};
    CausalLM model(c, gen);
    save_pretrained(model, tmp.file("ckpt"));
    auto loaded = load_pretrained(tmp.file("ckpt"));
    Tensor ids = token_ids(2, 11, c.vocab_size, 4);
    CHECK(loaded->forward(ids).to_vector() == model.forward(ids).to_vector());
  }

  TEST_CASE("layer-wise hybrid: a malformed attn is one error naming the key") {
    CHECK(config_error(with_attn(R"({"layers": [3], "num_heads": 4})")).find("'attn.layers' holds 3, outside the 3 layers") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [1, 1], "num_heads": 4})")).find("lists layer 1 twice") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [], "num_heads": 4})")).find("'attn.layers' must list") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"num_heads": 4})")).find("'attn' needs 'layers'") != std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0]})")).find("'attn' needs 'num_heads'") != std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0], "num_heads": 3})")).find("not divisible by 'attn.num_heads' 3") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0], "num_heads": 8})")) == "(no error)");  // head dim 2
    CHECK(config_error(with_attn(R"({"layers": [0], "num_heads": 16})")).find("attn head dim 1 must be even") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0], "num_heads": 4, "num_kv_heads": 3})"))
              .find("not a multiple of 'attn.num_kv_heads' 3") != std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0], "num_heads": 4, "window_size": 0})")).find("'attn.window_size'") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": [0], "num_head": 4})")).find("unknown key 'attn.num_head'") !=
          std::string::npos);
    CHECK(config_error(with_attn(R"({"layers": "0", "num_heads": 4})")).find("'attn.layers' must be a list") !=
          std::string::npos);
    CHECK(config_error(with_attn("[1]")).find("'attn' must be an object or null") != std::string::npos);
    // A transformer is attention throughout: its `attn` key is an unknown key, with a warning.
    ConfigFromJson t = config_from_json(io::Json::parse(R"({"model_type": "transformer", "hidden_size": 16,
        "num_heads": 2, "attn": {"layers": [0], "num_heads": 2}})"));
    CHECK(t.warning.find("'attn'") != std::string::npos);
    CHECK_FALSE(t.config.attn.has_value());
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck delta_net with an attention layer") {
    gradcheck_variant("delta_net, attention at layer 1 (4 heads, GQA 2, bias, window 5)");
  }
  TEST_CASE("gradcheck hqlt sync_chunk with an attention layer") {
    gradcheck_variant("hqlt sync_chunk, attention at layer 0");
  }
}
