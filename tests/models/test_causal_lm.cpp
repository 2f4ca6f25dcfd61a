// CausalLM (docs/math/models.md §1.7, §2, §6, §7.1): the state-dict names and shapes of every
// family with and without their optional parameters, the parameter count, the intermediate-
// size rule, initialisation statistics, tied embeddings, padding_idx, the kernel switch,
// bad token ids; a gradcheck of the tied variant.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "model_test_utils.h"

using namespace hqlt;
using namespace hqlt::models;
using namespace hqlt::models::testing;

namespace {

std::map<std::string, Shape> shapes_of(const nn::Module& m) {
  std::map<std::string, Shape> out;
  for (auto& [n, t] : m.named_parameters()) out[n] = t.shape();
  return out;
}

// §7.1, the names common to the three types, for L layers.
std::map<std::string, Shape> common_names(const ModelConfig& c) {
  const int64_t d = c.hidden_size, i = c.mlp_hidden(), v = c.vocab_size;
  std::map<std::string, Shape> out{{"model.embeddings.weight", {v, d}}, {"model.norm.weight", {d}}};
  if (!c.tie_word_embeddings) out["lm_head.weight"] = {v, d};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out[p + "attn_norm.weight"] = {d};
    out[p + "mlp_norm.weight"] = {d};
    out[p + "mlp.gate_proj.weight"] = {i, d};
    out[p + "mlp.up_proj.weight"] = {i, d};
    out[p + "mlp.down_proj.weight"] = {d, i};
  }
  return out;
}

// Mean and standard deviation of a tensor's values.
std::pair<double, double> stats(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  double m = 0, s = 0;
  for (double e : v) m += e;
  m /= double(v.size());
  for (double e : v) s += (e - m) * (e - m);
  return {m, std::sqrt(s / double(v.size()))};
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double e : t.to_vector()) m = std::max(m, std::abs(e));
  return m;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("CausalLM state-dict names and shapes: transformer") {
    ModelConfig c = tiny_config(ModelType::transformer);
    c.hidden_size = 24;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    CausalLM model(c);
    auto want = common_names(c);
    for (int64_t l = 0; l < 2; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".attn.";
      want[p + "q_proj.weight"] = {24, 24};
      want[p + "k_proj.weight"] = {12, 24};
      want[p + "v_proj.weight"] = {12, 24};
      want[p + "o_proj.weight"] = {24, 24};
    }
    CHECK(shapes_of(model) == want);
    CHECK(model.named_parameters().front().first == "model.embeddings.weight");
    CHECK(model.named_parameters().back().first == "lm_head.weight");
  }

  TEST_CASE("CausalLM state-dict names and shapes: delta_net") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    c.expand_v = 2;  // value_dim 32, d_v 16
    for (bool conv : {true, false})
      for (bool gate : {false, true}) {
        c.use_short_conv = conv;
        c.use_gate = gate;
        CAPTURE(conv);
        CAPTURE(gate);
        CausalLM model(c);
        auto want = common_names(c);
        for (int64_t l = 0; l < 2; ++l) {
          const std::string p = "model.layers." + std::to_string(l) + ".attn.";
          want[p + "q_proj.weight"] = {16, 16};
          want[p + "k_proj.weight"] = {16, 16};
          want[p + "v_proj.weight"] = {32, 16};
          want[p + "b_proj.weight"] = {2, 16};
          if (conv) {
            want[p + "q_conv1d.weight"] = {16, 1, 4};
            want[p + "k_conv1d.weight"] = {16, 1, 4};
            want[p + "v_conv1d.weight"] = {32, 1, 4};
          }
          if (gate) want[p + "g_proj.weight"] = {32, 16};
          want[p + "o_norm.weight"] = {16};
          want[p + "o_proj.weight"] = {16, 32};
        }
        CHECK(shapes_of(model) == want);
      }
  }

  TEST_CASE("CausalLM state-dict names and shapes: hybrid_qlt") {
    ModelConfig c = tiny_config(ModelType::hybrid_qlt);
    c.num_hidden_layers = 1;
    c.attn_mode = AttnMode::sync_chunk;
    c.use_short_conv = true;
    c.use_gate = true;
    c.use_memory_gate = true;
    c.use_memory_dynamic_scaler = true;
    c.tie_word_embeddings = true;
    CausalLM model(c);
    auto want = common_names(c);
    const std::string p = "model.layers.0.attn.";
    for (auto n : {"q_proj", "k_proj", "v_proj", "memory_gate_proj", "g_proj"}) want[p + n + ".weight"] = {16, 16};
    want[p + "b_proj.weight"] = {2, 16};
    for (auto n : {"q_conv1d", "k_conv1d", "v_conv1d"}) want[p + n + ".weight"] = {16, 1, 4};
    want[p + "memory_mixer.weight"] = {4, 16};
    want[p + "o_norm.weight"] = {8};
    want[p + "o_proj.weight"] = {16, 16};
    CHECK(shapes_of(model) == want);
    CHECK(model.lm_head == nullptr);
  }

  TEST_CASE("CausalLM parameter count") {
    // transformer, MHA: V·D (emb) + V·D (head) + D (norm) + L·(2D + 4D² + 3·D·I)
    ModelConfig t = tiny_config(ModelType::transformer);
    const int64_t v = 11, d = 16, i = 8, l = 2;
    CHECK(CausalLM(t).num_parameters() == 2 * v * d + d + l * (2 * d + 4 * d * d + 3 * d * i));
    // delta_net with conv, no gate: + H·D (b_proj) + 3·D·K (convs) + d_v (o_norm) per layer
    ModelConfig dn = tiny_config(ModelType::delta_net);
    CHECK(CausalLM(dn).num_parameters() ==
          2 * v * d + d + l * (2 * d + 4 * d * d + 3 * d * i + 2 * d + 3 * d * 4 + 8));
    // hybrid_qlt noconv with the vector gate and static scalars are exclusive; gate + g_proj:
    ModelConfig h = tiny_config(ModelType::hybrid_qlt);
    h.use_memory_gate = true;
    h.use_gate = true;
    h.tie_word_embeddings = true;
    CHECK(CausalLM(h).num_parameters() == v * d + d + l * (2 * d + 6 * d * d + 3 * d * i + 2 * d + 8));
  }

  TEST_CASE("CausalLM MLP width follows the intermediate-size rule (§1.6)") {
    ModelConfig c = default_config(ModelType::hybrid_qlt);
    c.hidden_size = 1024;
    CHECK(c.mlp_hidden() == 2816);
    c.hidden_size = 2048;
    CHECK(c.mlp_hidden() == 5632);
    for (auto [d, heads, want] : {std::tuple<int64_t, int64_t, int64_t>{128, 4, 512}, {100, 2, 512}, {48, 2, 256}}) {
      ModelConfig m = tiny_config(ModelType::hybrid_qlt);
      m.hidden_size = d;
      m.num_heads = heads;
      m.num_hidden_layers = 1;
      m.intermediate_size = std::nullopt;
      const auto d_value = d;  // a copy: clang 14 cannot capture a structured binding
      INFO("d = " << d_value);
      CausalLM model(m);
      CHECK(model.model->layer(0).mlp->gate_proj->weight.shape() == Shape{want, d});
      CHECK(model.model->layer(0).mlp->down_proj->weight.shape() == Shape{d, want});
    }
    ModelConfig explicit_size = tiny_config(ModelType::transformer);
    explicit_size.intermediate_size = 14;
    CHECK(CausalLM(explicit_size).model->layer(1).mlp->up_proj->weight.shape() == Shape{14, 16});
  }

  TEST_CASE("CausalLM initialisation statistics (§6)") {
    for (ModelType type : {ModelType::transformer, ModelType::delta_net, ModelType::hybrid_qlt}) {
      ModelConfig c = default_config(type);
      c.vocab_size = 300;
      c.hidden_size = 64;
      c.num_heads = 4;
      c.num_hidden_layers = 3;
      c.pad_token_id = 2;
      if (type == ModelType::hybrid_qlt) {
        c.qk_activation = "identity";
        c.use_memory_gate = true;
        c.use_memory_scaler = false;
      }
      CAPTURE(model_type_name(type));
      Generator gen{31, 0};
      CausalLM model(c, gen);
      const double range = c.initializer_range;
      CHECK(range == (type == ModelType::hybrid_qlt ? 0.02 : 0.006));
      const bool rescaled = type != ModelType::transformer;
      for (auto& [name, p] : model.named_parameters()) {
        const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
        INFO("name = " << name_value);
        const bool norm = name.find("norm") != std::string::npos;
        const bool o_proj = name.find("o_proj") != std::string::npos;
        const bool down = name.find("down_proj") != std::string::npos;
        if (norm) {
          for (double e : p.to_vector()) CHECK(e == 1.0);
        } else if (rescaled && (o_proj || down)) {
          // U(±1/√fan_in) / √(2L): std = bound/√3, nothing beyond the bound.
          const double bound = 1.0 / std::sqrt(double(p.size(1))) / std::sqrt(2.0 * 3);
          CHECK(max_abs(p) <= bound);
          CHECK(max_abs(p) >= 0.95 * bound);
          CHECK(stats(p).second == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.1));
        } else {
          // N(0, range²): convs, embeddings (pad row included), every other linear.
          auto [m, s] = stats(p);
          CHECK(std::abs(m) <= 5 * range / std::sqrt(double(p.numel())));
          CHECK(s == doctest::Approx(range).epsilon(p.numel() >= 1000 ? 0.1 : 0.35));
        }
      }
      // The padding row keeps its random value (§6).
      Tensor pad_row = model.model->embeddings->weight.slice(0, 2, 3);
      CHECK(max_abs(pad_row) > 0.0);
      CHECK(model.model->embeddings->padding_idx == 2);
    }
  }

  TEST_CASE("CausalLM logits: shape - dtype - composition and tied embeddings") {
    ModelConfig c = tiny_config(ModelType::hybrid_qlt);
    c.tie_word_embeddings = true;
    CausalLM model(c);
    Tensor ids = token_ids(2, 5, c.vocab_size, 3);
    Tensor logits = model.forward(ids);
    CHECK(logits.shape() == Shape{2, 5, 11});
    CHECK(logits.dtype() == DType::f32);
    // Tied: logits = RMSNorm_final(h) Eᵀ with E the embedding table.
    Tensor h = model.hidden_states(model.model->embeddings->forward(ids));
    std::vector<double> hv = h.to_vector(), e = model.model->embeddings->weight.to_vector(),
                        got = logits.to_vector();
    for (int64_t r = 0; r < 10; ++r)
      for (int64_t v = 0; v < 11; ++v) {
        double s = 0;
        for (int64_t k = 0; k < 16; ++k) s += hv[size_t(r * 16 + k)] * e[size_t(v * 16 + k)];
        CHECK(got[size_t(r * 11 + v)] == doctest::Approx(s).epsilon(1e-5));
      }
    // i32 ids work too.
    CHECK(model.forward(from_vector(ids.to_vector(), ids.shape(), DType::i32)).shape() == Shape{2, 5, 11});
  }

  TEST_CASE("CausalLM pad_token_id: that embedding row gets no gradient") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    c.pad_token_id = 3;
    auto model = make_model(c);
    Tensor ids = from_vector({3, 1, 3, 0}, {1, 4}, DType::i64);
    weighted_loss(model->forward(ids)).backward();
    std::vector<double> g = model->model->embeddings->weight.grad().to_vector();
    double pad = 0, other = 0;
    for (int64_t k = 0; k < 16; ++k) {
      pad += std::abs(g[size_t(3 * 16 + k)]);
      other += std::abs(g[size_t(1 * 16 + k)]);
    }
    CHECK(pad == 0.0);
    CHECK(other > 0.0);
  }

  TEST_CASE("CausalLM set_kernels reaches every token mixer") {
    CausalLM model(tiny_config(ModelType::hybrid_qlt));
    CHECK(model.kernels() == Kernels::fused);
    model.set_kernels(Kernels::reference);
    CHECK(model.kernels() == Kernels::reference);
    for (size_t i = 0; i < 2; ++i) CHECK(model.model->layer(i).attn->kernels() == Kernels::reference);
  }

  TEST_CASE("CausalLM bad inputs") {
    CausalLM model(tiny_config(ModelType::transformer));
    CHECK_THROWS_WITH_AS(model.forward(from_vector({1, 11}, {1, 2}, DType::i64)),
                         doctest::Contains("value 11 at position 1 is out of range"), Error);
    CHECK_THROWS_WITH_AS(model.forward(from_vector({-1}, {1, 1}, DType::i32)), doctest::Contains("out of range"),
                         Error);
    CHECK_THROWS_WITH_AS(model.forward(from_vector({1, 2}, {1, 2}, DType::f32)),
                         doctest::Contains("expected i32 or i64 token ids"), Error);
    CHECK_THROWS_WITH_AS(model.forward(from_vector({1, 2}, {2}, DType::i64)), doctest::Contains("expected [B, T]"),
                         Error);
    CHECK_THROWS_WITH_AS(model.forward(Tensor()), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(model.hidden_states(randn({1, 2, 8})), doctest::Contains("'inputs_embeds'"), Error);

    ModelConfig bad = tiny_config(ModelType::hybrid_qlt);
    bad.qk_activation = "silu";
    CHECK_THROWS_WITH_AS(CausalLM{bad}, doctest::Contains("qk_activation"), Error);
    ModelConfig pad = tiny_config(ModelType::delta_net);
    pad.pad_token_id = 11;
    CHECK_THROWS_WITH_AS(CausalLM{pad}, doctest::Contains("pad_token_id"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck CausalLM tied embeddings") {
    ModelConfig c = tiny_config(ModelType::delta_net);
    c.tie_word_embeddings = true;
    c.num_hidden_layers = 1;
    auto model = make_model(c);
    gradcheck_model(*model, token_ids(2, 6, c.vocab_size, 17));
  }
}
