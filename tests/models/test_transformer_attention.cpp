// TransformerAttention (docs/math/models.md §3): forward values against a plain loop (full
// causal, sliding window, GQA, qkv biases and qk_norm), parameter names and shapes, bad inputs; at model level
// fused vs reference kernels, an f64 gradcheck over all parameters, and causality.
#include <doctest/doctest.h>

#include "model_test_utils.h"
#include "naive_mixers.h"
#include "nn/init.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

std::vector<Variant> transformer_variants() {
  std::vector<Variant> out;
  for (const Variant& v : all_variants())
    if (v.config.model_type == ModelType::transformer) out.push_back(v);
  return out;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("TransformerAttention forward matches a plain loop") {
    ModelConfig c = tiny_config(ModelType::transformer);
    c.hidden_size = 24;
    c.num_heads = 4;  // d = 6
    c.rope_theta = 500;
    struct Case {
      std::optional<int64_t> window, kv_heads;
      bool bias_and_qk_norm = false;
    };
    for (Case k : {Case{std::nullopt, std::nullopt}, Case{3, std::nullopt}, Case{1, 2}, Case{std::nullopt, 1},
                   Case{40, 2}, Case{std::nullopt, std::nullopt, true}, Case{3, 2, true}}) {
      c.window_size = k.window;
      c.num_kv_heads = k.kv_heads;
      c.qkv_bias = c.transformer_qk_norm = k.bias_and_qk_norm;
      CAPTURE(k.window.value_or(-1));
      CAPTURE(k.kv_heads.value_or(-1));
      CAPTURE(k.bias_and_qk_norm);
      TransformerAttention layer(c);
      layer.to(DType::f64);
      Generator gen{4, 0};
      for (auto& [name, p] : layer.named_parameters()) nn::init::normal_(p, 0.3, gen);
      const int64_t batch = 2, time = 9;
      Tensor x = randn({batch, time, c.hidden_size}, DType::f64, Device::cpu, 0.0, 1.0, gen);
      std::vector<double> want = naive::transformer_attention(layer, x.to_vector(), batch, time, c.rope_theta);
      for (Kernels kind : {Kernels::fused, Kernels::reference}) {
        layer.set_kernels(kind);
        CAPTURE(kernels_name(kind));
        Tensor got = layer.forward(x);
        CHECK(got.shape() == Shape{batch, time, c.hidden_size});
        CHECK(hqlt::testing::max_error(got, from_vector(want, got.shape(), DType::f64)) <= 1e-10);
      }
    }
  }

  TEST_CASE("TransformerAttention parameter names and shapes follow spec §7.1") {
    ModelConfig c = tiny_config(ModelType::transformer);
    c.hidden_size = 24;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    TransformerAttention layer(c);
    CHECK(names_of(layer) == std::vector<std::string>{"q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"});
    CHECK(layer.q_proj->weight.shape() == Shape{24, 24});
    CHECK(layer.k_proj->weight.shape() == Shape{12, 24});  // H_kv · d = 2 · 6
    CHECK(layer.v_proj->weight.shape() == Shape{12, 24});
    CHECK(layer.o_proj->weight.shape() == Shape{24, 24});

    c.qkv_bias = true;
    c.transformer_qk_norm = true;
    TransformerAttention full(c);
    CHECK(names_of(full) == std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
                                            "v_proj.weight", "v_proj.bias", "q_norm.weight", "k_norm.weight",
                                            "o_proj.weight"});
    CHECK(full.k_proj->bias->shape() == Shape{12});
    CHECK(full.q_norm->weight.shape() == Shape{6});
    CHECK(full.q_norm->eps == 1e-5);  // not the model's norm_eps (§3)
  }

  TEST_CASE("TransformerAttention bad inputs") {
    ModelConfig c = tiny_config(ModelType::transformer);
    TransformerAttention layer(c);
    CHECK_THROWS_WITH_AS(layer.forward(randn({2, 3, 8})), doctest::Contains("TransformerAttention: argument 'x'"),
                         Error);
    CHECK_THROWS_WITH_AS(layer.forward(randn({3, 16})), doctest::Contains("expected [B, T, 16]"), Error);
    ModelConfig gqa = c;
    gqa.num_kv_heads = 3;
    CHECK_THROWS_WITH_AS(TransformerAttention{gqa}, doctest::Contains("num_kv_heads"), Error);
    ModelConfig odd = c;
    odd.hidden_size = 6;
    odd.num_heads = 2;  // d = 3: RoPE needs an even head dim
    CHECK_THROWS_WITH_AS(TransformerAttention{odd}, doctest::Contains("even"), Error);
    CHECK_THROWS_WITH_AS(TransformerAttention{tiny_config(ModelType::delta_net)},
                         doctest::Contains("expected a transformer config"), Error);
  }

  TEST_CASE("transformer models are causal") {
    for (const Variant& v : transformer_variants()) {
      CAPTURE(v.name);
      auto model = make_model(v.config);
      check_causal(*model, token_ids(2, 12, v.config.vocab_size, 21));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("transformer models: fused kernels match the reference composition") {
    for (const Variant& v : transformer_variants())
      for (int64_t time : {int64_t(1), int64_t(70)}) {
        CAPTURE(v.name);
        CAPTURE(time);
        auto model = make_model(v.config);
        check_fused_vs_reference(*model, token_ids(2, time, v.config.vocab_size, 13));
      }
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck transformer") { gradcheck_variant("transformer"); }
  TEST_CASE("gradcheck transformer window 3 - GQA 2:1") { gradcheck_variant("transformer window 3, GQA 2:1"); }
  TEST_CASE("gradcheck transformer qkv_bias - qk_norm") {
    gradcheck_variant("transformer qkv_bias, qk_norm, rope_theta 500");
  }
}
