// Elementwise ops: gradients by finite differences in f64 and f32-vs-f64, on shapes that
// broadcast, have size-1 dims, or are non-contiguous; values against std:: math.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Each binary op on: equal shapes, broadcasting both ways with size-1 dims, a rank
// difference, and a non-contiguous (transposed) input.
void check_binary(Tensor (*op)(const Tensor&, const Tensor&), bool positive_b = false) {
  auto f = [op](const Ts& x) { return op(x[0], x[1]); };
  auto b = [&](const Shape& s) { return positive_b ? leaf_uniform(s, 0.5, 2.0) : leaf(s); };
  SUBCASE("same shape") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4}), b({3, 4})})); }
  SUBCASE("broadcast size-1 dims") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 1, 4}), b({1, 2, 4})})); }
  SUBCASE("broadcast rank") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 4}), b({4})})); }
  SUBCASE("scalar-shaped") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1}), b({2, 3})})); }
  SUBCASE("non-contiguous") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 5}), b({3, 5})})); }
}

void check_unary(Tensor (*op)(const Tensor&), double low = -2.0, double high = 2.0) {
  auto f = [op](const Ts& x) { return op(x[0]); };
  SUBCASE("contiguous") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf_uniform({2, 3, 5}, low, high)})); }
  SUBCASE("non-contiguous") {
    Tensor base = leaf_uniform({4, 3}, low, high);
    Tensor t;
    {
      NoGrad ng;
      t = base.transpose(0, 1).detach();
    }
    t.set_requires_grad(true);
    HQLT_CHECK_GRADIENTS(f, (Ts{t}));
  }
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck add") { check_binary(add); }
  TEST_CASE("gradcheck sub") { check_binary(sub); }
  TEST_CASE("gradcheck mul") { check_binary(mul); }
  TEST_CASE("gradcheck div") { check_binary(div, /*positive_b=*/true); }
  TEST_CASE("gradcheck neg") { check_unary(neg); }
  TEST_CASE("gradcheck exp") { check_unary(exp); }
  TEST_CASE("gradcheck log") { check_unary(log, 0.2, 3.0); }
  TEST_CASE("gradcheck sqrt") { check_unary(sqrt, 0.2, 3.0); }
  TEST_CASE("gradcheck rsqrt") { check_unary(rsqrt, 0.2, 3.0); }
  TEST_CASE("gradcheck abs") { check_unary(abs); }  // measure-zero chance of hitting 0
  TEST_CASE("gradcheck sigmoid") { check_unary(sigmoid, -4, 4); }
  TEST_CASE("gradcheck silu") { check_unary(silu, -4, 4); }
  TEST_CASE("gradcheck elu_plus_one") { check_unary(elu_plus_one, -3, 3); }
  TEST_CASE("gradcheck scalar ops") {
    SUBCASE("add_scalar") { HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0] + 2.5; }, (Ts{leaf({3, 2})})); }
    SUBCASE("mul_scalar") { HQLT_CHECK_GRADIENTS([](const Ts& x) { return x[0] * -1.5; }, (Ts{leaf({3, 2})})); }
    SUBCASE("rdiv_scalar") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return 3.0 / x[0]; }, (Ts{leaf_uniform({3, 2}, 0.5, 2)}));
    }
    SUBCASE("pow") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pow_scalar(x[0], 1.7); }, (Ts{leaf_uniform({4}, 0.5, 2)}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pow_scalar(x[0], 3.0); }, (Ts{leaf({4})}));
    }
  }
  TEST_CASE("gradcheck swiglu") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return swiglu(x[0], x[1]); }, (Ts{leaf({3, 4}), leaf({3, 4})}));
  }
}

TEST_SUITE("unit") {
  TEST_CASE("elementwise values match std math") {
    Tensor x = from_vector({-2, -0.5, 0, 0.5, 3}, {5}, DType::f64);
    auto v = [](const Tensor& t) { return t.to_vector(); };
    for (int i = 0; i < 5; ++i) {
      double xi = x.to_vector()[size_t(i)];
      CAPTURE(xi);
      CHECK(v(exp(x))[size_t(i)] == doctest::Approx(std::exp(xi)));
      CHECK(v(sigmoid(x))[size_t(i)] == doctest::Approx(1 / (1 + std::exp(-xi))));
      CHECK(v(silu(x))[size_t(i)] == doctest::Approx(xi / (1 + std::exp(-xi))));
      CHECK(v(elu_plus_one(x))[size_t(i)] == doctest::Approx(xi > 0 ? xi + 1 : std::exp(xi)));
      CHECK(v(abs(x))[size_t(i)] == doctest::Approx(std::abs(xi)));
    }
  }
  TEST_CASE("broadcast add by hand") {
    Tensor a = from_vector({1, 2, 3}, {3, 1});
    Tensor b = from_vector({10, 20}, {1, 2});
    CHECK(add(a, b).shape() == Shape{3, 2});
    CHECK(add(a, b).to_vector() == std::vector<double>{11, 21, 12, 22, 13, 23});
  }
  TEST_CASE("elementwise bad input") {
    Tensor a = zeros({3, 2}), b = zeros({4, 2});
    CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("cannot be broadcast"), Error);
    CHECK_THROWS_WITH_AS(add(a, zeros({3, 2}, DType::f64)), doctest::Contains("expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(exp(zeros({2}, DType::i64)), doctest::Contains("expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(add(a, Tensor()), doctest::Contains("undefined"), Error);
  }
}
