// Linear: y = x Wᵀ (+ b) against a naive loop (3-D, 1-D and non-contiguous inputs, with
// and without bias), parameter names and shapes, gradients by finite differences, and
// bad inputs.
#include <doctest/doctest.h>

#include "compare.h"

#include <cmath>

#include "gradcheck.h"
#include "engine/rng.h"
#include "nn/linear.h"

using namespace hqlt;
using namespace hqlt::nn;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// y[r, o] = Σ_i x[r, i] · w[o, i] (+ b[o]) over the rows r of x viewed as [rows, in].
std::vector<double> naive_linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), bv = b ? b->to_vector() : std::vector<double>();
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / in;
  std::vector<double> y(size_t(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b ? bv[size_t(o)] : 0.0;
      for (int64_t i = 0; i < in; ++i) s += xv[size_t(r * in + i)] * wv[size_t(o * in + i)];
      y[size_t(r * out + o)] = s;
    }
  return y;
}


}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::Linear forward against a naive loop") {
    Linear lin(5, 3);
    CHECK(lin.weight.shape() == Shape{3, 5});
    CHECK(lin.bias == nullptr);
    CHECK(lin.named_parameters().size() == 1);
    CHECK(lin.named_parameters()[0].first == "weight");
    // PyTorch's default init: U(±1/√in).
    for (double w : lin.weight.to_vector()) CHECK(std::abs(w) <= 1 / std::sqrt(5.0));

    SUBCASE("[B, T, in]") {
      Tensor x = randn({2, 4, 5});
      Tensor y = lin.forward(x);
      CHECK(y.shape() == Shape{2, 4, 3});
      expect_close(y.to_vector(), naive_linear(x, lin.weight, nullptr), 1e-5);
    }
    SUBCASE("[in]") {
      Tensor x = randn({5});
      Tensor y = lin.forward(x);
      CHECK(y.shape() == Shape{3});
      expect_close(y.to_vector(), naive_linear(x, lin.weight, nullptr), 1e-5);
    }
    SUBCASE("non-contiguous x") {
      Tensor x = randn({5, 6}).transpose(0, 1);  // [6, 5], strided
      expect_close(lin.forward(x).to_vector(), naive_linear(x, lin.weight, nullptr), 1e-5);
    }
    SUBCASE("with bias, f64") {
      Linear lb(5, 3, /*bias=*/true);
      lb.to(DType::f64);
      REQUIRE(lb.bias != nullptr);
      CHECK(lb.named_parameters()[1].first == "bias");
      Tensor x = randn({7, 5}, DType::f64);
      expect_close(lb.forward(x).to_vector(), naive_linear(x, lb.weight, lb.bias), 1e-12);
    }
  }

  TEST_CASE("nn::Linear bad inputs") {
    Linear lin(5, 3);
    CHECK_THROWS_WITH_AS(lin.forward(randn({2, 4})), doctest::Contains("expected last dim 5 (in_features)"), Error);
    CHECK_THROWS_WITH_AS(lin.forward(randn({2, 5}, DType::f64)), doctest::Contains("expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(lin.forward(Tensor()), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(Linear(0, 3), doctest::Contains("in_features >= 1"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck Linear") {
    auto plain = std::make_shared<Linear>(4, 3);
    auto with_bias = std::make_shared<Linear>(4, 3, true);
    auto f = [plain](const Ts& x) {
      plain->weight = x[1];
      return plain->forward(x[0]);
    };
    auto fb = [with_bias](const Ts& x) {
      with_bias->weight = x[1];
      *with_bias->bias = x[2];
      return with_bias->forward(x[0]);
    };
    SUBCASE("3-D x") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 4}), leaf({3, 4})})); }
    SUBCASE("1-D x") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({4}), leaf({3, 4})})); }
    SUBCASE("non-contiguous x and weight") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({5, 4}), leaf_transposed({3, 4})})); }
    SUBCASE("bias") { HQLT_CHECK_GRADIENTS(fb, (Ts{leaf({2, 1, 4}), leaf({3, 4}), leaf({3})})); }
  }
}
