// Module: nested dotted names in registration order (the reference state-dict names),
// lookups, the train/eval flag, zero_grad, dtype conversion, and state_dict loading with
// its errors (missing, unexpected, wrong shape, wrong dtype; a failed load changes nothing).
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "nn/gated_mlp.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/rms_norm.h"
#include "ops/reduce/reduce.h"

using namespace hqlt;
using namespace hqlt::nn;

namespace {

// A miniature decoder layer with the reference's names (docs/math/models.md §7.1).
struct ToyAttention : Module {
  std::shared_ptr<Linear> q_proj = register_module("q_proj", std::make_shared<Linear>(4, 4));
  std::shared_ptr<Linear> o_proj = register_module("o_proj", std::make_shared<Linear>(4, 4));
  Tensor& fw_scale = register_parameter("fw_scale", ones({1}));
};

struct ToyLayer : Module {
  std::shared_ptr<RMSNorm> attn_norm = register_module("attn_norm", std::make_shared<RMSNorm>(4));
  std::shared_ptr<ToyAttention> attn = register_module("attn", std::make_shared<ToyAttention>());
  std::shared_ptr<RMSNorm> mlp_norm = register_module("mlp_norm", std::make_shared<RMSNorm>(4));
  std::shared_ptr<GatedMLP> mlp = register_module("mlp", std::make_shared<GatedMLP>(4, 8));
};

struct ToyModel : Module {
  Tensor& scale = register_parameter("scale", ones({2}));
  std::shared_ptr<ModuleList> layers = register_module("layers", std::make_shared<ModuleList>());
  ToyModel() {
    layers->push_back(std::make_shared<ToyLayer>());
    layers->push_back(std::make_shared<ToyLayer>());
  }
};

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [name, t] : m.named_parameters()) out.push_back(name);
  return out;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::Module nested dotted names in registration order") {
    ToyModel model;
    std::vector<std::string> layer = {"attn_norm.weight",   "attn.fw_scale",      "attn.q_proj.weight",
                                      "attn.o_proj.weight", "mlp_norm.weight",    "mlp.gate_proj.weight",
                                      "mlp.up_proj.weight", "mlp.down_proj.weight"};
    std::vector<std::string> want = {"scale"};
    for (const char* i : {"0", "1"})
      for (const auto& n : layer) want.push_back(std::string("layers.") + i + "." + n);
    CHECK(names_of(model) == want);
    CHECK(model.parameters().size() == want.size());
    // 2 + 2 · (4 + 1 + 16 + 16 + 4 + 32 + 32 + 32)
    CHECK(model.num_parameters() == 2 + 2 * (4 + 1 + 16 + 16 + 4 + 32 + 32 + 32));
    for (const Tensor& p : model.parameters()) {
      CHECK(p.requires_grad());
      CHECK(p.is_leaf());
    }
    // Lookups by dotted name reach the same tensors.
    auto layer1 = std::dynamic_pointer_cast<ToyLayer>((*model.layers)[1]);
    REQUIRE(layer1);
    CHECK(model.parameter("layers.1.mlp.down_proj.weight").same(layer1->mlp->down_proj->weight));
    CHECK(&model.module("layers.1.attn") == layer1->attn.get());
    CHECK(model.parameter("scale").same(model.scale));
    CHECK_THROWS_WITH_AS(model.parameter("layers.1.mlp.nope.weight"), doctest::Contains("no sub-module named"), Error);
    CHECK_THROWS_WITH_AS(model.parameter("layers.0.attn.k_proj"), doctest::Contains("no parameter named"), Error);

    auto modules = model.named_modules();
    CHECK(modules.front().first == "");
    CHECK(modules[1].first == "layers");
    CHECK(modules[2].first == "layers.0");
    CHECK(modules[3].first == "layers.0.attn_norm");
    CHECK(modules.size() == 1 + 1 + 2 * (1 + 1 + 1 + 2 + 1 + 1 + 3));
  }

  TEST_CASE("nn::Module registration errors") {
    Module m;
    m.register_parameter("w", ones({2}));
    CHECK_THROWS_WITH_AS(m.register_parameter("w", ones({2})), doctest::Contains("already registered"), Error);
    CHECK_THROWS_WITH_AS(m.register_module("w", std::make_shared<Module>()), doctest::Contains("already registered"),
                         Error);
    CHECK_THROWS_WITH_AS(m.register_parameter("a.b", ones({2})), doctest::Contains("contain no '.'"), Error);
    CHECK_THROWS_WITH_AS(m.register_parameter("", ones({2})), doctest::Contains("non-empty"), Error);
    CHECK_THROWS_WITH_AS(m.register_parameter("ids", zeros({2}, DType::i64)), doctest::Contains("f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(m.register_module("child", std::shared_ptr<Module>()), doctest::Contains("is null"), Error);
  }

  TEST_CASE("nn::Module train/eval - zero_grad and to(dtype)") {
    ToyModel model;
    CHECK(model.is_training());
    model.eval();
    CHECK(!model.is_training());
    CHECK(!model.module("layers.1.mlp.up_proj").is_training());
    model.train();
    CHECK(model.module("layers.0.attn").is_training());

    Tensor loss = sum(model.layers->operator[](0)->parameter("mlp.up_proj.weight"));
    loss.backward();
    CHECK(model.parameter("layers.0.mlp.up_proj.weight").grad().defined());
    model.zero_grad();
    CHECK(!model.parameter("layers.0.mlp.up_proj.weight").grad().defined());

    std::vector<double> before = model.parameter("layers.0.attn.q_proj.weight").to_vector();
    model.to(DType::f64);
    for (const Tensor& p : model.parameters()) {
      CHECK(p.dtype() == DType::f64);
      CHECK(p.requires_grad());
    }
    CHECK(model.parameter("layers.0.attn.q_proj.weight").to_vector() == before);
    // Members that refer to the slots see the converted tensors.
    auto layer0 = std::dynamic_pointer_cast<ToyLayer>((*model.layers)[0]);
    CHECK(layer0->attn->q_proj->weight.dtype() == DType::f64);
  }

  TEST_CASE("nn::Module state_dict round trip") {
    ToyModel a, b;
    StateDict state = a.state_dict();
    CHECK(state.size() == a.parameters().size());
    CHECK(!state.at("scale").requires_grad());
    Tensor slot_before = b.parameter("layers.0.mlp.gate_proj.weight");
    LoadReport report = b.load_state_dict(state);
    CHECK(report.missing.empty());
    CHECK(report.unexpected.empty());
    for (auto& [name, t] : a.named_parameters()) {
      const auto name_value = name;  // a copy: clang 14 cannot capture a structured binding
      INFO("name = " << name_value);
      CHECK(b.parameter(name).to_vector() == t.to_vector());
    }
    // Values are copied in place: tensors held elsewhere (an optimiser) stay the parameters.
    CHECK(b.parameter("layers.0.mlp.gate_proj.weight").same(slot_before));
    // And they are copies, not shared storage.
    fill(a.parameter("scale"), 5.0);
    CHECK(b.parameter("scale").to_vector() == std::vector<double>{1.0, 1.0});
  }

  TEST_CASE("nn::Module load_state_dict errors") {
    ToyModel model;
    const std::vector<double> original = model.parameter("layers.0.mlp.up_proj.weight").to_vector();

    SUBCASE("missing") {
      StateDict state = model.state_dict();
      state.erase("layers.1.attn.o_proj.weight");
      CHECK_THROWS_WITH_AS(model.load_state_dict(state),
                           doctest::Contains("1 missing parameter(s): 'layers.1.attn.o_proj.weight'"), Error);
      LoadReport r = model.load_state_dict(state, /*strict=*/false);
      CHECK(r.missing == std::vector<std::string>{"layers.1.attn.o_proj.weight"});
    }
    SUBCASE("unexpected") {
      StateDict state = model.state_dict();
      state.emplace("layers.0.attn.k_proj.weight", zeros({4, 4}));
      CHECK_THROWS_WITH_AS(model.load_state_dict(state),
                           doctest::Contains("1 unexpected name(s): 'layers.0.attn.k_proj.weight'"), Error);
      LoadReport r = model.load_state_dict(state, false);
      CHECK(r.unexpected == std::vector<std::string>{"layers.0.attn.k_proj.weight"});
    }
    SUBCASE("wrong shape, strict or not, changes nothing") {
      StateDict state;
      for (auto& [name, t] : model.named_parameters()) state.emplace(name, zeros(t.shape()));
      state["layers.1.mlp.up_proj.weight"] = zeros({8, 5});
      CHECK_THROWS_WITH_AS(model.load_state_dict(state),
                           doctest::Contains("'layers.1.mlp.up_proj.weight': expected shape [8, 4], got [8, 5]"),
                           Error);
      CHECK_THROWS_AS(model.load_state_dict(state, false), Error);
      CHECK(model.parameter("layers.0.mlp.up_proj.weight").to_vector() == original);
    }
    SUBCASE("wrong dtype") {
      StateDict state = model.state_dict();
      state["scale"] = ones({2}, DType::f64);
      CHECK_THROWS_WITH_AS(model.load_state_dict(state), doctest::Contains("'scale': expected dtype f32, got f64"),
                           Error);
    }
    SUBCASE("many missing names are summarised") {
      CHECK_THROWS_WITH_AS(model.load_state_dict(StateDict{}), doctest::Contains("17 missing parameter(s)"), Error);
      CHECK_THROWS_WITH_AS(model.load_state_dict(StateDict{}), doctest::Contains("and 9 more"), Error);
    }
  }
}
