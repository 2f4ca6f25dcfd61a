// where and masked_fill: gradients by finite differences in f64 and f32-vs-f64 (integer
// and float conditions, broadcasting among all three operands, non-contiguous inputs, a
// branch that needs no gradient); values against plain loops; a causal -inf mask.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "ops/select/where.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

Tensor coin_flips(const Shape& shape, DType dtype = DType::i32) {
  Tensor flips = randint(0, 2, shape, DType::i64);
  return dtype == DType::i64 ? flips : flips.to(dtype);
}

// The causal mask of attention: 1 above the diagonal (key after query), 0 elsewhere.
Tensor above_diagonal(int64_t t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < t; ++j) v.push_back(j > i ? 1 : 0);
  return from_vector(v, {t, t}, DType::i64);
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck where") {
    auto f = [](const Ts& x) { return where(x[0], x[1], x[2]); };
    SUBCASE("same shapes, i32 condition") {
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({3, 4}), leaf({3, 4}), leaf({3, 4})}));
    }
    SUBCASE("all three broadcast") {
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({3, 1}, DType::i64), leaf({1, 4}), leaf({3, 4})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({2, 3, 4}), leaf({3, 4}), leaf({4})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({4}), leaf({2, 1, 4}), leaf({1})}));
    }
    SUBCASE("float condition, non-contiguous operands") {
      Tensor cond = from_vector({0, 1, 0.5, 0, -2, 1}, {2, 3}, DType::f64);  // nonzero = true
      HQLT_CHECK_GRADIENTS(f, (Ts{cond, leaf_transposed({2, 3}), leaf({2, 3})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({5, 3}), leaf({5, 3}), leaf_transposed({5, 3})}));
    }
    SUBCASE("only one branch requires grad") {
      Tensor fixed = randn({3, 2}, DType::f64);
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({3, 2}), fixed, leaf({3, 2})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{coin_flips({3, 2}), leaf({2}), fixed}));
    }
  }

  TEST_CASE("gradcheck masked_fill") {
    auto f = [](const Ts& x) { return masked_fill(x[0], x[1], -3.5); };
    SUBCASE("same shape") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4}), coin_flips({3, 4})})); }
    SUBCASE("causal mask broadcast over heads") {
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 4, 4}), above_diagonal(4)}));
    }
    SUBCASE("size-1 mask dims, float mask, non-contiguous x") {
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 5}), coin_flips({3, 1})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3}), from_vector({1, 0, 2}, {1, 3}, DType::f64)}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1}), coin_flips({1}, DType::i64)}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("where values match a plain loop") {
    Tensor cond = coin_flips({3, 1});
    Tensor a = randn({1, 4}, DType::f64), b = randn({3, 4}, DType::f64);
    Tensor out = where(cond, a, b);
    REQUIRE(out.shape() == Shape{3, 4});
    std::vector<double> c = cond.to_vector(), av = a.to_vector(), bv = b.to_vector(), ov = out.to_vector();
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 4; ++j) {
        CAPTURE(i); CAPTURE(j);
        CHECK(ov[i * 4 + j] == (c[i] != 0 ? av[j] : bv[i * 4 + j]));
      }
  }

  TEST_CASE("where gradients go to the chosen branch - summed over broadcast dims") {
    Tensor cond = from_vector({1, 0, 1}, {3, 1}, DType::i32);
    Tensor a = leaf({1, 2}), b = leaf({3, 2});
    where(cond, a, b).backward(ones({3, 2}, DType::f64));
    CHECK(a.grad().to_vector() == std::vector<double>{2, 2});  // rows 0 and 2 chose a
    CHECK(b.grad().to_vector() == std::vector<double>{0, 0, 1, 1, 0, 0});
  }

  TEST_CASE("masked_fill: causal -inf mask - values and gradient") {
    const double inf = std::numeric_limits<double>::infinity();
    Tensor scores = leaf({2, 3, 3});
    Tensor out = masked_fill(scores, above_diagonal(3), -inf);
    std::vector<double> sv = scores.to_vector(), ov = out.to_vector();
    for (size_t h = 0; h < 2; ++h)
      for (size_t i = 0; i < 3; ++i)
        for (size_t j = 0; j < 3; ++j) {
          CAPTURE(h); CAPTURE(i); CAPTURE(j);
          size_t at = (h * 3 + i) * 3 + j;
          CHECK(ov[at] == (j > i ? -inf : sv[at]));
        }
    out.backward(ones({2, 3, 3}, DType::f64));
    std::vector<double> g = scores.grad().to_vector();
    for (size_t at = 0; at < g.size(); ++at) CHECK(g[at] == ((at % 3) > (at / 3) % 3 ? 0.0 : 1.0));
  }

  TEST_CASE("where and masked_fill bad input") {
    Tensor a = zeros({3, 4}), mask = zeros({3, 4}, DType::i32);
    CHECK_THROWS_WITH_AS(where(mask, a, zeros({3, 4}, DType::f64)), doctest::Contains("argument 'b': expected dtype f32"),
                         Error);
    CHECK_THROWS_WITH_AS(where(mask, a, zeros({2, 4})), doctest::Contains("where: shapes [3, 4] and [2, 4]"), Error);
    CHECK_THROWS_WITH_AS(where(zeros({5}, DType::i32), a, a), doctest::Contains("cannot be broadcast"), Error);
    CHECK_THROWS_WITH_AS(where(Tensor(), a, a), doctest::Contains("argument 'cond' is an undefined"), Error);
    CHECK_THROWS_WITH_AS(where(mask, mask, mask), doctest::Contains("argument 'a': expected dtype f32 or f64"), Error);

    CHECK_THROWS_WITH_AS(masked_fill(a, zeros({2, 3, 4}, DType::i32), 0),
                         doctest::Contains("'mask': expected a shape that broadcasts to x's shape [3, 4], got [2, 3, 4]"),
                         Error);
    CHECK_THROWS_WITH_AS(masked_fill(a, zeros({4, 1}, DType::i32), 0), doctest::Contains("got [4, 1]"), Error);
    CHECK_THROWS_WITH_AS(masked_fill(mask, mask, 0), doctest::Contains("argument 'x': expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(masked_fill(a, Tensor(), 0), doctest::Contains("argument 'mask' is an undefined"), Error);
  }
}
