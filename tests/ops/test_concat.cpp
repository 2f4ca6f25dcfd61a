// concat, split and chunk: gradients by finite differences in f64 and f32-vs-f64 (every
// dim, size-1 and empty pieces, non-contiguous inputs, pieces that get no gradient);
// values against a plain loop over row-major indices; torch.chunk's piece sizes.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "ops/shape/concat.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// The pieces flattened and laid end to end, so one tensor carries all of them into the
// harness's loss; `use` picks which pieces take part (the others get no gradient).
Tensor flatten_pieces(const Ts& pieces, const std::vector<bool>& use) {
  Ts flat;
  for (size_t i = 0; i < pieces.size(); ++i)
    if (use[i]) flat.push_back(pieces[i].reshape({-1}));
  return concat(flat, 0);
}

std::vector<int64_t> sizes_along(const Ts& pieces, int64_t dim) {
  std::vector<int64_t> s;
  for (const Tensor& p : pieces) s.push_back(p.size(dim));
  return s;
}

// A leaf that is a strided view: every other row of a larger tensor.
Tensor leaf_every_other_row(const Shape& shape) {
  Shape bigger = shape;
  bigger[0] *= 2;
  Tensor base = randn(bigger, DType::f64);
  Tensor t = base.slice(0, 0, bigger[0], 2).detach();
  t.set_requires_grad(true);
  return t;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck concat") {
    SUBCASE("dim 1, three inputs, one of size 1") {
      auto f = [](const Ts& x) { return concat(x, 1); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 4}), leaf({2, 1, 4}), leaf({2, 2, 4})}));
    }
    SUBCASE("dim 0 and dim -1 with non-contiguous inputs") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return concat(x, 0); },
                           (Ts{leaf_transposed({3, 5}), leaf_every_other_row({2, 5})}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return concat(x, -1); },
                           (Ts{leaf_transposed({4, 3}), leaf({4, 1}), leaf_transposed({4, 2})}));
    }
    SUBCASE("one input, and an empty input") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return concat(x, 0); }, (Ts{leaf({3, 2})}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return concat(x, 1); }, (Ts{leaf({2, 0}), leaf({2, 3})}));
    }
  }

  TEST_CASE("gradcheck split") {
    SUBCASE("every piece used") {
      auto f = [](const Ts& x) { return flatten_pieces(split(x[0], {1, 3, 2}, 1), {true, true, true}); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 6, 3})}));
    }
    SUBCASE("middle piece unused: its gradient is undefined and counts as zero") {
      auto f = [](const Ts& x) { return flatten_pieces(split(x[0], {2, 1, 2}, 0), {true, false, true}); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({5, 3})}));
    }
    SUBCASE("non-contiguous input, last dim, an empty piece") {
      auto f = [](const Ts& x) { return flatten_pieces(split(x[0], {2, 0, 3}, -1), {true, true, true}); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 5})}));
    }
  }

  TEST_CASE("gradcheck chunk") {
    auto all = [](size_t n) { return std::vector<bool>(n, true); };
    SUBCASE("5 rows in 4 chunks: 2, 2, 1") {
      auto f = [&](const Ts& x) {
        Ts p = chunk(x[0], 4, 0);
        return flatten_pieces(p, all(p.size()));
      };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({5, 3})}));
    }
    SUBCASE("non-contiguous, 7 columns in 3 chunks, only the last used") {
      auto f = [](const Ts& x) { return flatten_pieces(chunk(x[0], 3, 1), {false, false, true}); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 7})}));
    }
    SUBCASE("more chunks than rows") {
      auto f = [&](const Ts& x) {
        Ts p = chunk(x[0], 5, -1);
        return flatten_pieces(p, all(p.size()));
      };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("concat values match a plain loop") {
    Tensor a = randn({2, 3, 4}, DType::f64), b = randn({2, 2, 4}, DType::f64);
    Tensor out = concat({a, b}, 1);
    REQUIRE(out.shape() == Shape{2, 5, 4});
    std::vector<double> av = a.to_vector(), bv = b.to_vector(), ov = out.to_vector();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 5; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          CAPTURE(i); CAPTURE(j); CAPTURE(k);
          double expected = j < 3 ? av[size_t((i * 3 + j) * 4 + k)] : bv[size_t((i * 2 + (j - 3)) * 4 + k)];
          CHECK(ov[size_t((i * 5 + j) * 4 + k)] == expected);
        }
    // Integer tensors join too (no arithmetic is involved).
    Tensor ids = concat({arange(0, 3), arange(7, 9)}, 0);
    CHECK(ids.dtype() == DType::i64);
    CHECK(ids.to_vector() == std::vector<double>{0, 1, 2, 7, 8});
  }

  TEST_CASE("split pieces are views with the right values") {
    Tensor x = from_vector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
    Ts p = split(x, {1, 3}, 1);
    REQUIRE(p.size() == 2);
    CHECK(p[0].shape() == Shape{3, 1});
    CHECK(p[1].shape() == Shape{3, 3});
    CHECK(p[0].to_vector() == std::vector<double>{0, 4, 8});
    CHECK(p[1].to_vector() == std::vector<double>{1, 2, 3, 5, 6, 7, 9, 10, 11});
    CHECK(p[1].data<float>() == x.data<float>() + 1);  // shares x's storage
    CHECK(concat(p, 1).to_vector() == x.to_vector());
  }

  TEST_CASE("chunk sizes follow torch.chunk") {
    struct Case {
      int64_t n, chunks;
      std::vector<int64_t> sizes;
    };
    std::vector<Case> cases = {{5, 4, {2, 2, 1}}, {6, 4, {2, 2, 2}}, {6, 3, {2, 2, 2}}, {7, 3, {3, 3, 1}},
                               {2, 5, {1, 1}},    {1, 1, {1}},       {0, 3, {0, 0, 0}}};
    for (const Case& c : cases) {
      CAPTURE(c.n); CAPTURE(c.chunks);
      CHECK(sizes_along(chunk(zeros({2, c.n}), c.chunks, 1), 1) == c.sizes);
    }
    Tensor x = from_vector({0, 1, 2, 3, 4}, {5});
    Ts p = chunk(x, 2, 0);
    CHECK(p[0].to_vector() == std::vector<double>{0, 1, 2});
    CHECK(p[1].to_vector() == std::vector<double>{3, 4});
  }

  TEST_CASE("split gradient fills pieces without a gradient with zeros") {
    Tensor x = leaf({4, 2});
    Ts p = split(x, {1, 2, 1}, 0);
    p[1].backward(ones({2, 2}, DType::f64));
    CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 1, 1, 1, 1, 0, 0});
  }

  TEST_CASE("concat - split and chunk bad input") {
    Tensor a = zeros({2, 3}), b = zeros({2, 4});
    CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("concat: argument 'xs': expected at least one"), Error);
    CHECK_THROWS_WITH_AS(concat({a, Tensor()}, 0), doctest::Contains("'xs[1]' is an undefined"), Error);
    CHECK_THROWS_WITH_AS(concat({a, b}, 0), doctest::Contains("'xs[1]': expected shape [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(concat({a, zeros({2, 3, 1})}, 0), doctest::Contains("got [2, 3, 1]"), Error);
    CHECK_THROWS_WITH_AS(concat({a, zeros({2, 3}, DType::f64)}, 0), doctest::Contains("expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(concat({a, b}, 2), doctest::Contains("concat: dim 2 is out of range"), Error);
    CHECK_THROWS_WITH_AS(concat({zeros(Shape{}), zeros(Shape{})}, 0), doctest::Contains("expected rank >= 1"), Error);

    CHECK_THROWS_WITH_AS(split(a, {1, 1}, 1), doctest::Contains("sum to 3"), Error);
    CHECK_THROWS_WITH_AS(split(a, {4, -1}, 1), doctest::Contains("expected sizes >= 0, got -1"), Error);
    CHECK_THROWS_WITH_AS(split(a, {}, 1), doctest::Contains("expected at least one size"), Error);
    CHECK_THROWS_WITH_AS(split(a, {3}, -3), doctest::Contains("split: dim -3 is out of range"), Error);
    CHECK_THROWS_WITH_AS(split(Tensor(), {3}, 0), doctest::Contains("undefined"), Error);

    CHECK_THROWS_WITH_AS(chunk(a, 0, 0), doctest::Contains("chunk: argument 'chunks': expected >= 1, got 0"), Error);
    CHECK_THROWS_WITH_AS(chunk(a, 2, 5), doctest::Contains("chunk: dim 5 is out of range"), Error);
  }
}
