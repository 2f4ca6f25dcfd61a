// Reductions: gradients by finite differences, values against naive loops.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "ops/reduce/reduce.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck sum") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return sum(x[0]); }, (Ts{leaf({2, 3, 4})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return sum(x[0], {1}); }, (Ts{leaf({2, 3, 4})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return sum(x[0], {0, -1}, true); }, (Ts{leaf({2, 3, 4})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return sum(x[0], {0}); }, (Ts{leaf_transposed({3, 5})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return sum(x[0], {1}); }, (Ts{leaf({4, 1})}));
  }
  TEST_CASE("gradcheck mean") {
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return mean(x[0]); }, (Ts{leaf({2, 3})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return mean(x[0], {-1}, true); }, (Ts{leaf_transposed({3, 5})}));
  }
  TEST_CASE("gradcheck max") {
    // Distinct values keep every maximum away from a tie, where max is not differentiable.
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return max(x[0], {1}); }, (Ts{leaf({3, 5})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return max(x[0]); }, (Ts{leaf({2, 3})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return max(x[0], {0}, true); }, (Ts{leaf_transposed({4, 3})}));
  }
}

TEST_SUITE("unit") {
  TEST_CASE("reductions against naive loops") {
    Tensor x = randn({3, 4, 5}, DType::f64);
    std::vector<double> v = x.to_vector();
    auto at = [&](int i, int j, int k) { return v[size_t(i * 20 + j * 5 + k)]; };
    std::vector<double> s1 = sum(x, {1}).to_vector(), m02 = mean(x, {0, 2}).to_vector(),
                        mx2 = max(x, {2}).to_vector();
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        double s = 0;
        for (int j = 0; j < 4; ++j) s += at(i, j, k);
        CHECK(s1[size_t(i * 5 + k)] == doctest::Approx(s));
      }
    for (int j = 0; j < 4; ++j) {
      double s = 0;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) s += at(i, j, k);
      CHECK(m02[size_t(j)] == doctest::Approx(s / 15));
    }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) {
        double m = at(i, j, 0);
        for (int k = 1; k < 5; ++k) m = std::max(m, at(i, j, k));
        CHECK(mx2[size_t(i * 4 + j)] == m);
      }
    CHECK(sum(x).shape() == Shape{});
    CHECK(sum(x, {1}, true).shape() == Shape{3, 1, 5});
  }
  TEST_CASE("a large sum is parallel and still exact for integers") {
    Tensor x = arange(0, 1 << 20, 1, DType::f64).reshape({1024, 1024});
    CHECK(sum(x).item() == double(int64_t(1 << 20) * ((1 << 20) - 1) / 2));
    CHECK(sum(x, {0}).to_vector()[3] == double(1024 * 3 + 1024 * 1023 / 2 * 1024));
  }
  TEST_CASE("a sum gives the same bits with one and with two threads") {
    // Which summation order a sum takes depends on its shape alone: few outputs over long
    // slices (fixed blocks) or one fold per output. Real f32 values show any other order.
    for (const int64_t outputs : {1, 3, 5, 7, 8, 64}) {
      CAPTURE(outputs);
      const Tensor x = randn({outputs, 20000}, DType::f32);
      const auto sums = [&] { return sum(x, {1}).to_vector(); };
      CHECK(hqlt::testing::with_threads(1, sums) == hqlt::testing::with_threads(2, sums));
    }
  }
  TEST_CASE("max sends the gradient to the first maximum") {
    Tensor x = from_vector({1, 3, 3, 2}, {4}, DType::f64);
    x.set_requires_grad(true);
    max(x).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 0, 0});
  }
  TEST_CASE("reduce bad input") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(sum(x, {2}), doctest::Contains("out of range"), Error);
    CHECK_THROWS_WITH_AS(sum(x, {1, -1}), doctest::Contains("listed twice"), Error);
    CHECK_THROWS_WITH_AS(max(zeros({0, 3}), {0}), doctest::Contains("empty"), Error);
    CHECK_THROWS_WITH_AS(mean(zeros({2}, DType::i32)), doctest::Contains("f32 or f64"), Error);
  }
}
