// RMSNorm and GatedRMSNorm modules: values against a naive loop (§1.1–1.2: mean of
// squares, ε inside the root, SiLU gate), the "weight" parameter initialised to 1,
// gradients of the gated form by finite differences, bad inputs.
#include <doctest/doctest.h>

#include "compare.h"

#include <cmath>

#include "gradcheck.h"
#include "engine/rng.h"
#include "nn/rms_norm.h"

using namespace hqlt;
using namespace hqlt::nn;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Rows of x [rows, N]: w ⊙ x / sqrt(mean x² + eps), times silu(g) when g is given.
std::vector<double> naive(const Tensor& x, const Tensor& w, double eps, const Tensor* g) {
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), gv = g ? g->to_vector() : std::vector<double>();
  const int64_t n = w.numel(), rows = x.numel() / n;
  std::vector<double> y(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += xv[size_t(r * n + i)] * xv[size_t(r * n + i)];
    double inv = 1 / std::sqrt(ss / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      size_t k = size_t(r * n + i);
      y[k] = wv[size_t(i)] * xv[k] * inv;
      if (g) y[k] *= gv[k] / (1 + std::exp(-gv[k]));
    }
  }
  return y;
}


}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::RMSNorm and nn::GatedRMSNorm against a naive loop") {
    RMSNorm norm(6, 1e-6);
    GatedRMSNorm gated(6, 1e-5);
    CHECK(norm.named_parameters()[0].first == "weight");
    CHECK(gated.named_parameters()[0].first == "weight");
    CHECK(norm.weight.to_vector() == std::vector<double>(6, 1.0));
    CHECK(gated.weight.to_vector() == std::vector<double>(6, 1.0));
    norm.weight = randn({6});
    gated.weight = randn({6});
    Tensor x = randn({2, 3, 6}), g = randn({2, 3, 6});
    expect_close(norm.forward(x).to_vector(), naive(x, norm.weight, 1e-6, nullptr), 1e-5);
    expect_close(gated.forward(x, g).to_vector(), naive(x, gated.weight, 1e-5, &g), 1e-5);
    // Per-head use: [B, T, H, d_v] with one shared weight of size d_v.
    Tensor xh = randn({1, 2, 3, 6}), gh = randn({1, 2, 3, 6});
    expect_close(gated.forward(xh, gh).to_vector(), naive(xh, gated.weight, 1e-5, &gh), 1e-5);
  }

  TEST_CASE("nn::RMSNorm bad inputs") {
    RMSNorm norm(4);
    GatedRMSNorm gated(4);
    CHECK_THROWS_WITH_AS(norm.forward(randn({2, 5})), doctest::Contains("expected last dim 4"), Error);
    CHECK_THROWS_WITH_AS(gated.forward(randn({2, 4}), randn({2, 3})), doctest::Contains("argument 'g'"), Error);
    CHECK_THROWS_WITH_AS(gated.forward(randn({2, 4}), Tensor()), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(RMSNorm(0), doctest::Contains("size >= 1"), Error);
    CHECK_THROWS_WITH_AS(RMSNorm(3, -1.0), doctest::Contains("eps >= 0"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck GatedRMSNorm") {
    auto norm = std::make_shared<GatedRMSNorm>(5, 1e-5);
    auto f = [norm](const Ts& x) {
      norm->weight = x[2];
      return norm->forward(x[0], x[1]);
    };
    SUBCASE("[B, T, H, d]") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 2, 3, 5}), leaf({2, 2, 3, 5}), leaf({5})})); }
    SUBCASE("non-contiguous x and g") {
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({4, 5}), leaf_transposed({4, 5}), leaf({5})}));
    }
    SUBCASE("size 1") {
      auto one = std::make_shared<GatedRMSNorm>(1, 0.5);
      auto f1 = [one](const Ts& x) {
        one->weight = x[2];
        return one->forward(x[0], x[1]);
      };
      HQLT_CHECK_GRADIENTS(f1, (Ts{leaf({3, 1}), leaf({3, 1}), leaf({1})}));
    }
  }
}
