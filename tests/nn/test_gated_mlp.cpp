// GatedMLP: the intermediate-size rule (§1.6 examples), parameter names, values against a
// naive SwiGLU, gradients by finite differences, bad inputs.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "nn/gated_mlp.h"

using namespace hqlt;
using namespace hqlt::nn;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

TEST_SUITE("unit") {
  TEST_CASE("nn::intermediate_size_for follows spec §1.6") {
    CHECK(intermediate_size_for(1024) == 2816);
    CHECK(intermediate_size_for(2048) == 5632);
    CHECK(intermediate_size_for(128) == 512);
    CHECK(intermediate_size_for(100) == 512);
    CHECK(intermediate_size_for(4096, 4.0, 14336) == 14336);
    CHECK(intermediate_size_for(1024, std::nullopt, std::nullopt) == 2816);
    CHECK(intermediate_size_for(96, 2.0) == 256);  // floor(128) = 128 -> 256
    CHECK(intermediate_size_for(384, 1.0) == 256);  // 256 exactly stays 256
    CHECK_THROWS_WITH_AS(intermediate_size_for(0), doctest::Contains("hidden_size"), Error);
    CHECK_THROWS_WITH_AS(intermediate_size_for(8, 4.0, 0), doctest::Contains("intermediate_size"), Error);
  }

  TEST_CASE("nn::GatedMLP names and values against a naive SwiGLU") {
    GatedMLP mlp(4, 6);
    std::vector<std::string> names;
    for (auto& [n, t] : mlp.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"gate_proj.weight", "up_proj.weight", "down_proj.weight"});
    CHECK(mlp.gate_proj->weight.shape() == Shape{6, 4});
    CHECK(mlp.up_proj->weight.shape() == Shape{6, 4});
    CHECK(mlp.down_proj->weight.shape() == Shape{4, 6});

    mlp.to(DType::f64);
    Tensor x = randn({2, 3, 4}, DType::f64);
    std::vector<double> y = mlp.forward(x).to_vector(), xv = x.to_vector();
    std::vector<double> wg = mlp.gate_proj->weight.to_vector(), wu = mlp.up_proj->weight.to_vector(),
                        wd = mlp.down_proj->weight.to_vector();
    for (int64_t r = 0; r < 6; ++r) {
      double h[6];
      for (int64_t i = 0; i < 6; ++i) {
        double a = 0, b = 0;
        for (int64_t k = 0; k < 4; ++k) {
          a += xv[size_t(r * 4 + k)] * wg[size_t(i * 4 + k)];
          b += xv[size_t(r * 4 + k)] * wu[size_t(i * 4 + k)];
        }
        h[i] = a / (1 + std::exp(-a)) * b;
      }
      for (int64_t o = 0; o < 4; ++o) {
        double s = 0;
        for (int64_t i = 0; i < 6; ++i) s += h[i] * wd[size_t(o * 6 + i)];
        CAPTURE(r);
        CAPTURE(o);
        CHECK(y[size_t(r * 4 + o)] == doctest::Approx(s).epsilon(1e-12));
      }
    }
    CHECK_THROWS_WITH_AS(mlp.forward(randn({2, 5}, DType::f64)), doctest::Contains("expected last dim 4"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck GatedMLP") {
    auto mlp = std::make_shared<GatedMLP>(3, 5);
    auto f = [mlp](const Ts& x) {
      mlp->gate_proj->weight = x[1];
      mlp->up_proj->weight = x[2];
      mlp->down_proj->weight = x[3];
      return mlp->forward(x[0]);
    };
    SUBCASE("[B, T, D]") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 2, 3}), leaf({5, 3}), leaf({5, 3}), leaf({3, 5})})); }
    SUBCASE("non-contiguous x") {
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({4, 3}), leaf({5, 3}), leaf({5, 3}), leaf({3, 5})}));
    }
  }
}
