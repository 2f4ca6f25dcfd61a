// pad: gradients by finite differences in f64 and f32-vs-f64 (each dim, before only,
// after only, no padding, a non-contiguous input); values against a plain loop.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "ops/shape/pad.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck pad") {
    SUBCASE("middle dim, both sides, nonzero value") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], 1, 2, 1, -0.5); }, (Ts{leaf({2, 3, 4})}));
    }
    SUBCASE("first dim, before only; last dim, after only") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], 0, 3, 0); }, (Ts{leaf({1, 4})}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], -1, 0, 2); }, (Ts{leaf({3, 1})}));
    }
    SUBCASE("non-contiguous input") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], 0, 1, 2, 1.0); }, (Ts{leaf_transposed({3, 5})}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], -1, 2, 1); }, (Ts{leaf_transposed({2, 4})}));
    }
    SUBCASE("no padding") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return pad(x[0], 0, 0, 0); }, (Ts{leaf({3})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("pad values match a plain loop") {
    Tensor x = randn({2, 3, 2}, DType::f64);
    const int64_t before = 2, after = 1;
    const double value = 7.25;
    Tensor out = pad(x, 1, before, after, value);
    REQUIRE(out.shape() == Shape{2, 6, 2});
    std::vector<double> xv = x.to_vector(), ov = out.to_vector();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 6; ++j)
        for (int64_t k = 0; k < 2; ++k) {
          CAPTURE(i); CAPTURE(j); CAPTURE(k);
          int64_t src = j - before;
          double expected = src >= 0 && src < 3 ? xv[size_t((i * 3 + src) * 2 + k)] : value;
          CHECK(ov[size_t((i * 6 + j) * 2 + k)] == expected);
        }
    // Integer tensors pad too (e.g. token ids with a pad id).
    CHECK(pad(arange(1, 3), 0, 1, 2, 9).to_vector() == std::vector<double>{9, 1, 2, 9, 9});
  }

  TEST_CASE("pad bad input") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(pad(x, 1, -1, 0), doctest::Contains("pad: argument 'before': expected >= 0, got -1"), Error);
    CHECK_THROWS_WITH_AS(pad(x, 1, 0, -2), doctest::Contains("pad: argument 'after': expected >= 0, got -2"), Error);
    CHECK_THROWS_WITH_AS(pad(x, 2, 1, 1), doctest::Contains("pad: dim 2 is out of range"), Error);
    CHECK_THROWS_WITH_AS(pad(zeros(Shape{}), 0, 1, 1), doctest::Contains("expected rank >= 1"), Error);
    CHECK_THROWS_WITH_AS(pad(Tensor(), 0, 1, 1), doctest::Contains("undefined"), Error);
  }
}
