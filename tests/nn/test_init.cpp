// init_weights (docs/math/models.md §6): normal std = initializer_range for Linear, conv and
// embedding weights; norms at 1; the rescaled o_proj / down_proj (uniform, bound
// 1/√fan_in/√(2L)); the transformer mode without rescale; the zero mode; the padding row
// not zeroed; reproducible from the generator's seed.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/embedding.h"
#include "nn/gated_mlp.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/rms_norm.h"
#include "nn/short_conv.h"

using namespace hqlt;
using namespace hqlt::nn;

namespace {

constexpr int64_t D = 64, I = 256, V = 300, L = 3;

struct Mixer : Module {
  std::shared_ptr<Linear> q_proj = register_module("q_proj", std::make_shared<Linear>(D, D));
  std::shared_ptr<ShortConvolution> q_conv1d = register_module("q_conv1d", std::make_shared<ShortConvolution>(D, 4));
  std::shared_ptr<GatedRMSNorm> o_norm = register_module("o_norm", std::make_shared<GatedRMSNorm>(16));
  std::shared_ptr<Linear> o_proj = register_module("o_proj", std::make_shared<Linear>(2 * D, D));
  Tensor& fw_scale = register_parameter("fw_scale", full({1}, 1.0));
};

struct Block : Module {
  std::shared_ptr<RMSNorm> attn_norm = register_module("attn_norm", std::make_shared<RMSNorm>(D));
  std::shared_ptr<Mixer> attn = register_module("attn", std::make_shared<Mixer>());
  std::shared_ptr<RMSNorm> mlp_norm = register_module("mlp_norm", std::make_shared<RMSNorm>(D));
  std::shared_ptr<GatedMLP> mlp = register_module("mlp", std::make_shared<GatedMLP>(D, I));
};

struct Model : Module {
  std::shared_ptr<Embedding> embeddings = register_module("embeddings", std::make_shared<Embedding>(V, D, 2));
  std::shared_ptr<ModuleList> layers = register_module("layers", std::make_shared<ModuleList>());
  std::shared_ptr<Linear> lm_head = register_module("lm_head", std::make_shared<Linear>(D, V, /*bias=*/true));
  Model() {
    for (int64_t i = 0; i < L; ++i) layers->push_back(std::make_shared<Block>());
  }
};

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};
Stats stats_of(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  Stats s;
  for (double x : v) s.mean += x, s.max_abs = std::max(s.max_abs, std::abs(x));
  s.mean /= double(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(v.size()));
  return s;
}

// A weight drawn N(0, σ²): mean ≈ 0 and std ≈ σ within a few standard errors.
void check_normal(const std::string& name, const Tensor& t, double sigma) {
  CAPTURE(name);
  Stats s = stats_of(t);
  const double n = double(t.numel());
  CHECK(std::abs(s.mean) < 5 * sigma / std::sqrt(n));
  CHECK(std::abs(s.std / sigma - 1) < 5 / std::sqrt(2 * n));
}

// A weight drawn U(−b, b): every |w| ≤ b, std ≈ b/√3.
void check_uniform(const std::string& name, const Tensor& t, double bound) {
  CAPTURE(name);
  Stats s = stats_of(t);
  const double n = double(t.numel());
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.95 * bound);
  CHECK(std::abs(s.std / (bound / std::sqrt(3.0)) - 1) < 5 * 0.9 / std::sqrt(n));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::init_weights rescale (delta_net - hybrid_qlt)") {
    Model model;
    Generator gen{1234, 0};
    const double range = 0.02;
    init_weights(model, {range, ResidualInit::rescale, L}, gen);
    const double depth = std::sqrt(2.0 * double(L));
    for (auto& [name, t] : model.named_parameters()) {
      if (ends_with(name, "o_proj.weight")) {
        check_uniform(name, t, 1 / std::sqrt(double(2 * D)) / depth);  // fan_in = value_dim = 2D here
      } else if (ends_with(name, "down_proj.weight")) {
        check_uniform(name, t, 1 / std::sqrt(double(I)) / depth);  // fan_in = I
      } else if (ends_with(name, "norm.weight") || ends_with(name, "fw_scale")) {
        const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
        INFO("name = " << name_value);
        CHECK(t.to_vector() == std::vector<double>(size_t(t.numel()), 1.0));
      } else if (name == "lm_head.bias") {
        CHECK(t.to_vector() == std::vector<double>(size_t(V), 0.0));
      } else {
        check_normal(name, t, range);  // q_proj, conv, gate/up, embeddings, lm_head
      }
    }
    // The padding row keeps its random value.
    CHECK(stats_of(model.embeddings->weight.slice(0, 2, 3)).max_abs > 0);
  }

  TEST_CASE("nn::init_weights without rescale (transformer) - zero mode - reproducibility") {
    Model model;
    Generator gen{99, 0};
    init_weights(model, {0.006, ResidualInit::none, L}, gen);
    check_normal("o_proj", model.parameter("layers.1.attn.o_proj.weight"), 0.006);
    check_normal("down_proj", model.parameter("layers.2.mlp.down_proj.weight"), 0.006);

    std::vector<double> first = model.parameter("layers.0.attn.q_proj.weight").to_vector();
    Generator again{99, 0};
    init_weights(model, {0.006, ResidualInit::none, L}, again);
    CHECK(model.parameter("layers.0.attn.q_proj.weight").to_vector() == first);

    init_weights(model, {0.02, ResidualInit::zero, L});
    for (const char* name : {"layers.0.attn.o_proj.weight", "layers.2.mlp.down_proj.weight"}) {
      CAPTURE(name);
      CHECK(stats_of(model.parameter(name)).max_abs == 0);
    }
    CHECK_THROWS_WITH_AS(init_weights(model, {0.02, ResidualInit::rescale, 0}), doctest::Contains("num_hidden_layers"),
                         Error);
  }

  TEST_CASE("nn::init fillers") {
    Tensor t = zeros({200, 50}, DType::f64);
    Generator gen{5, 0};
    init::kaiming_uniform_(t, gen);
    check_uniform("kaiming", t, 1 / std::sqrt(50.0));
    init::normal_(t, 3.0, gen);
    check_normal("normal", t, 3.0);
    init::constant_(t, 0.5);
    CHECK(stats_of(t).max_abs == 0.5);
    CHECK(stats_of(t).std == 0);
    CHECK_THROWS_WITH_AS(init::kaiming_uniform_(zeros({4})), doctest::Contains("at least 2 dims"), Error);
  }
}
