// DeltaNetLayer (docs/math/models.md §4): forward values against a plain loop (with and without
// short conv, output gate, β, every qk_activation and qk_norm), parameter names by flag, β never doubled, bad inputs; at
// model level fused vs reference kernels, an f64 gradcheck over all parameters, causality.
#include <doctest/doctest.h>

#include "model_test_utils.h"
#include "naive_mixers.h"
#include "nn/init.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

std::vector<Variant> delta_net_variants() {
  std::vector<Variant> out;
  for (const Variant& v : all_variants())
    if (v.config.model_type == ModelType::delta_net) out.push_back(v);
  return out;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("DeltaNetLayer forward matches a plain loop") {
    for (const Variant& v : delta_net_variants()) {
      for (bool neg_eigval : {false, true}) {
        ModelConfig c = v.config;
        c.allow_neg_eigval = neg_eigval;  // ignored by DeltaNet: β stays in (0, 1) (§4.1)
        CAPTURE(v.name);
        CAPTURE(neg_eigval);
        DeltaNetLayer layer(c);
        layer.to(DType::f64);
        Generator gen{4, 0};
        for (auto& [name, p] : layer.named_parameters()) nn::init::normal_(p, 0.4, gen);
        const int64_t batch = 2, time = 70;  // two chunks of the fused kernel
        Tensor x = randn({batch, time, c.hidden_size}, DType::f64, Device::cpu, 0.0, 1.0, gen);
        std::vector<double> want = naive::delta_net(layer, x.to_vector(), batch, time);
        for (Kernels kind : {Kernels::fused, Kernels::reference}) {
          layer.set_kernels(kind);
          CAPTURE(kernels_name(kind));
          Tensor got = layer.forward(x);
          CHECK(hqlt::testing::max_error(got, from_vector(want, got.shape(), DType::f64)) <= 1e-10);
        }
      }
    }
  }

  TEST_CASE("DeltaNetLayer parameter names and shapes follow spec §7.1") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    c.hidden_size = 12;
    c.num_heads = 3;
    c.expand_v = 2.0;  // value_dim 24, d_v 8
    c.conv_size = 3;
    SUBCASE("paper DeltaNet: short conv, beta, no gate") {
      DeltaNetLayer layer(c);
      CHECK(names_of(layer) == std::vector<std::string>{"q_proj.weight", "k_proj.weight", "v_proj.weight",
                                                        "b_proj.weight", "q_conv1d.weight", "k_conv1d.weight",
                                                        "v_conv1d.weight", "o_norm.weight", "o_proj.weight"});
      CHECK(layer.q_proj->weight.shape() == Shape{12, 12});
      CHECK(layer.k_proj->weight.shape() == Shape{12, 12});
      CHECK(layer.v_proj->weight.shape() == Shape{24, 12});
      CHECK(layer.b_proj->weight.shape() == Shape{3, 12});
      CHECK(layer.q_conv1d->weight.shape() == Shape{12, 1, 3});
      CHECK(layer.k_conv1d->weight.shape() == Shape{12, 1, 3});
      CHECK(layer.v_conv1d->weight.shape() == Shape{24, 1, 3});
      CHECK(layer.o_norm->weight.shape() == Shape{8});
      CHECK(layer.o_proj->weight.shape() == Shape{12, 24});
    }
    SUBCASE("noconv, gate, no beta") {
      c.use_short_conv = false;
      c.use_gate = true;
      c.use_beta = false;
      DeltaNetLayer layer(c);
      CHECK(names_of(layer) == std::vector<std::string>{"q_proj.weight", "k_proj.weight", "v_proj.weight",
                                                        "g_proj.weight", "o_norm.weight", "o_proj.weight"});
      CHECK(layer.g_proj->weight.shape() == Shape{24, 12});
      CHECK(layer.o_norm_gated->weight.shape() == Shape{8});
    }
  }

  TEST_CASE("DeltaNetLayer bad inputs") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    DeltaNetLayer layer(c);
    CHECK_THROWS_WITH_AS(layer.forward(randn({2, 3, 8})), doctest::Contains("DeltaNetLayer: argument 'x'"), Error);
    CHECK_THROWS_WITH_AS(layer.forward(randn({2, 3, 16}, DType::f64)), doctest::Contains("dtype"), Error);
    ModelConfig gelu = c;
    gelu.qk_activation = "gelu";  // not one the reference accepts
    CHECK_THROWS_WITH_AS(DeltaNetLayer{gelu}, doctest::Contains("'qk_activation' must be"), Error);
    ModelConfig max_norm = c;
    max_norm.qk_norm = "max";
    CHECK_THROWS_WITH_AS(DeltaNetLayer{max_norm}, doctest::Contains("'qk_norm' must be \"l2\" or \"sum\""), Error);
    ModelConfig heads = c;
    heads.num_heads = 3;
    CHECK_THROWS_WITH_AS(DeltaNetLayer{heads}, doctest::Contains("num_heads"), Error);
    CHECK_THROWS_WITH_AS(DeltaNetLayer{tiny_config(ModelType::transformer)},
                         doctest::Contains("expected a delta_net config"), Error);
  }

  TEST_CASE("delta_net models are causal") {
    for (const Variant& v : delta_net_variants()) {
      CAPTURE(v.name);
      auto model = make_model(v.config);
      check_causal(*model, token_ids(2, 12, v.config.vocab_size, 21));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("delta_net models: fused kernels match the reference composition") {
    for (const Variant& v : delta_net_variants())
      for (int64_t time : {int64_t(1), int64_t(70)}) {
        CAPTURE(v.name);
        CAPTURE(time);
        auto model = make_model(v.config);
        check_fused_vs_reference(*model, token_ids(2, time, v.config.vocab_size, 13));
      }
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck delta_net short conv") { gradcheck_variant("delta_net short conv"); }
  TEST_CASE("gradcheck delta_net noconv") { gradcheck_variant("delta_net noconv"); }
  TEST_CASE("gradcheck delta_net use_gate - no beta") { gradcheck_variant("delta_net use_gate, no beta"); }
  TEST_CASE("gradcheck delta_net relu - short conv") { gradcheck_variant("delta_net relu, short conv"); }
  TEST_CASE("gradcheck delta_net identity - noconv") { gradcheck_variant("delta_net identity, noconv"); }
  TEST_CASE("gradcheck delta_net elu - sum norm - short conv") { gradcheck_variant("delta_net elu, sum norm, short conv"); }
}
