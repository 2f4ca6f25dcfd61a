// DecoderBlock (docs/math/models.md §2): the pre-norm residual structure against a plain
// computation, names, the mixer chosen per family, bad inputs, and a gradcheck of one block
// with respect to its input and every parameter.
#include <doctest/doctest.h>

#include "model_test_utils.h"
#include "naive_mixers.h"
#include "nn/init.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

// mlp(x) = (silu(x Gᵀ) ⊙ x Uᵀ) D_downᵀ, §1.6.
std::vector<double> naive_mlp(const nn::GatedMLP& mlp, const std::vector<double>& x) {
  std::vector<double> g = naive::linear(x, mlp.gate_proj->weight), u = naive::linear(x, mlp.up_proj->weight);
  for (size_t i = 0; i < g.size(); ++i) g[i] = naive::silu(g[i]) * u[i];
  return naive::linear(g, mlp.down_proj->weight);
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("DecoderBlock is h + attn(attn_norm(h)) - then + mlp(mlp_norm(.))") {
    ModelConfig c = tiny_config(ModelType::transformer);
    DecoderBlock block(c);
    block.to(DType::f64);
    Generator gen{8, 0};
    for (auto& [name, p] : block.named_parameters()) nn::init::normal_(p, 0.5, gen);
    const int64_t batch = 2, time = 5, d = c.hidden_size;
    Tensor h = randn({batch, time, d}, DType::f64, Device::cpu, 0.0, 1.0, gen);
    std::vector<double> hv = h.to_vector();

    auto& attn = static_cast<const TransformerAttention&>(*block.attn);
    std::vector<double> a =
        naive::transformer_attention(attn, naive::rms_norm(hv, d, block.attn_norm->weight, c.norm_eps), batch, time,
                                     c.rope_theta);
    std::vector<double> r(hv.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = hv[i] + a[i];
    std::vector<double> m = naive_mlp(*block.mlp, naive::rms_norm(r, d, block.mlp_norm->weight, c.norm_eps));
    for (size_t i = 0; i < r.size(); ++i) r[i] += m[i];

    Tensor got = block.forward(h);
    CHECK(hqlt::testing::max_error(got, from_vector(r, got.shape(), DType::f64)) <= 1e-12);
  }

  TEST_CASE("DecoderBlock names and the mixer of each family") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    DecoderBlock block(c);
    std::vector<std::string> names;
    for (auto& [n, t] : block.named_parameters()) names.push_back(n);
    REQUIRE(names.size() >= 4);
    CHECK(names.front() == "attn_norm.weight");
    CHECK(names[1] == "attn.q_proj.weight");
    CHECK(names[names.size() - 4] == "mlp_norm.weight");
    CHECK(names[names.size() - 3] == "mlp.gate_proj.weight");
    CHECK(names[names.size() - 2] == "mlp.up_proj.weight");
    CHECK(names.back() == "mlp.down_proj.weight");
    CHECK(block.attn_norm->weight.shape() == Shape{16});
    CHECK(block.mlp->gate_proj->weight.shape() == Shape{8, 16});
    CHECK(block.mlp->down_proj->weight.shape() == Shape{16, 8});
    CHECK(block.attn_norm->eps == c.norm_eps);
    CHECK(block.mlp_norm->eps == c.norm_eps);

    CHECK(make_token_mixer(tiny_config(ModelType::transformer))->type_name() == "TransformerAttention");
    CHECK(make_token_mixer(tiny_config(ModelType::delta_net))->type_name() == "DeltaNetLayer");
    CHECK(make_token_mixer(tiny_config(ModelType::hybrid_qlt))->type_name() == "HQLTLayer");
  }

  TEST_CASE("DecoderBlock bad inputs") {
    DecoderBlock block(tiny_config(ModelType::hybrid_qlt));
    CHECK_THROWS_WITH_AS(block.forward(randn({2, 3, 15})), doctest::Contains("expected last dim 16"), Error);
    CHECK_THROWS_WITH_AS(block.forward(randn({3, 16})), doctest::Contains("expected [B, T, 16]"), Error);
    ModelConfig bad = tiny_config(ModelType::hybrid_qlt);
    bad.hidden_act = "gelu";
    CHECK_THROWS_WITH_AS(DecoderBlock{bad}, doctest::Contains("hidden_act"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck DecoderBlock") {
    ModelConfig c = tiny_hqlt(AttnMode::sync_chunk);
    c.hidden_size = 8;
    c.intermediate_size = 6;
    c.use_gate = true;
    auto block = std::make_shared<DecoderBlock>(c);
    block->to(DType::f64);
    std::vector<std::string> names;
    std::vector<Tensor> inputs{hqlt::testing::leaf_transposed({2, 7, 8})};
    for (auto& [n, p] : block->named_parameters()) {
      names.push_back(n);
      inputs.push_back(hqlt::testing::leaf(p.shape(), 0.5));
    }
    auto f = [block, names](const std::vector<Tensor>& xs) {
      for (size_t i = 0; i < names.size(); ++i) block->parameter(names[i]) = xs[i + 1];
      return block->forward(xs[0]);
    };
    HQLT_CHECK_GRADIENTS(f, inputs);
  }
}
