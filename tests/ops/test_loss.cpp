// cross_entropy: gradients by finite differences in f64 and f32-vs-f64 (ignore_index,
// a 0/1 mask and trainable weights, V = 1, i32 and i64 targets, [..., V] logits,
// non-contiguous logits, nothing counted); values against a naive loop; bad arguments.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/loss/cross_entropy.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Σ w_i (lse_i − z_{i,y_i}) / Σ w_i over rows whose target is not ignored, in double.
double naive_cross_entropy(const Tensor& logits, const std::vector<double>& targets, const std::vector<double>& w,
                           int64_t ignore_index = -100) {
  std::vector<double> z = clone_contiguous(logits).to_vector();
  const int64_t v = logits.size(-1), n = int64_t(targets.size());
  double total = 0, weight = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (int64_t(targets[size_t(i)]) == ignore_index) continue;
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < v; ++j) m = std::max(m, z[size_t(i * v + j)]);
    for (int64_t j = 0; j < v; ++j) s += std::exp(z[size_t(i * v + j)] - m);
    double nll = m + std::log(s) - z[size_t(i * v + int64_t(targets[size_t(i)]))];
    total += w[size_t(i)] * nll;
    weight += w[size_t(i)];
  }
  return weight > 0 ? total / weight : 0.0;
}

Tensor targets_of(const std::vector<double>& t, const Shape& shape, DType dtype = DType::i64) {
  return from_vector(t, shape, dtype);
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck cross_entropy") {
    SUBCASE("i64 targets with ignore_index present") {
      Tensor t = targets_of({2, -100, 0, 6, 3}, {5});
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t); }, (Ts{leaf({5, 7}, 2.0)}));
    }
    SUBCASE("i32 targets, ignore_index inside the class range") {
      Tensor t = targets_of({0, 1, 0, 4}, {4}, DType::i32);
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t, /*ignore_index=*/0); },
                           (Ts{leaf({4, 5})}));
    }
    SUBCASE("[B, T, V] logits, non-contiguous") {
      Tensor t = targets_of({1, 0, 3, 2, 2, -100}, {2, 3});
      Tensor logits = leaf_transposed({2, 3, 4});
      REQUIRE(!logits.is_contiguous());
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t); }, (Ts{logits}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return cross_entropy(x[0], targets_of({1, 0, 2, 4}, {4})); },
                           (Ts{leaf_transposed({4, 5})}));
    }
    SUBCASE("0/1 mask") {
      Tensor t = targets_of({2, 1, 0, 3, -100}, {5});
      Tensor mask = from_vector({1, 0, 1, 1, 1}, {5}, DType::f64);
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t, x[1]); }, (Ts{leaf({5, 4}), mask}));
    }
    SUBCASE("trainable weights as mask") {
      Tensor t = targets_of({2, 1, -100, 3, 0}, {5});
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t, x[1]); },
                           (Ts{leaf({5, 4}), leaf_uniform({5}, 0.2, 1.5)}));
    }
    SUBCASE("V = 1: the loss is 0 whatever the logits") {
      Tensor t = targets_of({0, 0, -100}, {3});
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t); }, (Ts{leaf({3, 1})}));
    }
    SUBCASE("nothing counted: loss 0, gradient 0") {
      Tensor t = targets_of({-100, -100}, {2});
      HQLT_CHECK_GRADIENTS([t](const Ts& x) { return cross_entropy(x[0], t); }, (Ts{leaf({2, 3})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("cross_entropy matches a naive loop") {
    for (DType dtype : {DType::f32, DType::f64}) {
      CAPTURE(dtype);
      const double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
      Tensor z = randn({6, 9}, dtype, Device::cpu, 0.0, 3.0);
      std::vector<double> t = {3, 8, -100, 0, 5, 5};
      std::vector<double> ones(6, 1.0), w = {0.5, 1, 1, 0, 2, 0.25};
      for (DType tdtype : {DType::i32, DType::i64}) {
        CAPTURE(tdtype);
        Tensor tt = targets_of(t, {6}, tdtype);
        CHECK(cross_entropy(z, tt).item() == doctest::Approx(naive_cross_entropy(z, t, ones)).epsilon(tol));
        CHECK(cross_entropy(z, tt, from_vector(w, {6}, dtype)).item() ==
              doctest::Approx(naive_cross_entropy(z, t, w)).epsilon(tol));
      }
      Tensor out = cross_entropy(z, targets_of(t, {6}));
      CHECK(out.shape() == Shape{});
      CHECK(out.dtype() == dtype);
    }
  }
  TEST_CASE("cross_entropy by hand") {
    // Row 0: logits (0, 0), target 1: nll = log 2. Row 1: (ln 3, 0), target 0: nll = log(4/3).
    Tensor z = from_vector({0, 0, std::log(3.0), 0}, {2, 2}, DType::f64);
    z.set_requires_grad(true);
    Tensor loss = cross_entropy(z, targets_of({1, 0}, {2}));
    CHECK(loss.item() == doctest::Approx((std::log(2.0) + std::log(4.0 / 3.0)) / 2));
    loss.backward();
    // (softmax − onehot) / 2.
    std::vector<double> g = z.grad().to_vector();
    CHECK(g[0] == doctest::Approx(0.25));
    CHECK(g[1] == doctest::Approx(-0.25));
    CHECK(g[2] == doctest::Approx(-0.125));
    CHECK(g[3] == doctest::Approx(0.125));
  }
  TEST_CASE("cross_entropy on a large batch (parallel rows) matches the naive loop - same bits for any thread count") {
    Tensor z = randn({64, 1000}, DType::f32, Device::cpu, 0.0, 2.0);
    z.set_requires_grad(true);
    Tensor tt = randint(0, 1000, {64});
    std::vector<double> t = tt.to_vector(), ones(64, 1.0);
    Tensor loss = cross_entropy(z, tt);
    CHECK(loss.item() == doctest::Approx(naive_cross_entropy(z.detach(), t, ones)).epsilon(1e-5));
    loss.backward();
    std::vector<double> many = z.grad().to_vector();
    z.zero_grad();
    const Tensor loss1 = hqlt::testing::with_threads(1, [&] {
      Tensor l = cross_entropy(z, tt);
      l.backward();
      return l;
    });
    CHECK(loss1.item() == loss.item());
    CHECK(z.grad().to_vector() == many);
  }
  TEST_CASE("cross_entropy is stable for huge logits") {
    const double nll = std::log(1 + std::exp(-1.0)) + 1;  // target 1
    Tensor z = from_vector({1e4, 1e4 - 1, -1e4}, {1, 3}, DType::f64);
    CHECK(cross_entropy(z, targets_of({1}, {1})).item() == doctest::Approx(nll).epsilon(1e-12));
    // In f32 the spacing of floats near 1e4 is 2^-10, which bounds the accuracy of lse − z_y.
    Tensor z32 = from_vector({1e4, 1e4 - 1, -1e4}, {1, 3}, DType::f32);
    CHECK(std::abs(cross_entropy(z32, targets_of({1}, {1})).item() - nll) <= 1e-3);
  }
  TEST_CASE("cross_entropy with nothing counted is 0 with zero gradients") {
    Tensor z = randn({3, 4}, DType::f64);
    z.set_requires_grad(true);
    Tensor mask = from_vector({0, 0, 0}, {3}, DType::f64);
    mask.set_requires_grad(true);
    Tensor loss = cross_entropy(z, targets_of({1, 2, 3}, {3}), mask);
    CHECK(loss.item() == 0);
    loss.backward();
    for (double g : z.grad().to_vector()) CHECK(g == 0);
    for (double g : mask.grad().to_vector()) CHECK(g == 0);
    CHECK(cross_entropy(z.detach(), targets_of({-100, -100, -100}, {3})).item() == 0);
  }
  TEST_CASE("cross_entropy bad input") {
    Tensor z = zeros({3, 5});
    Tensor t = targets_of({0, 1, 2}, {3});
    CHECK_THROWS_WITH_AS(cross_entropy(z, targets_of({0, 7, 2}, {3})),
                         doctest::Contains("cross_entropy: argument 'targets': value 7 at position 1 is out of range [0, 5)"),
                         Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, targets_of({0, -1, 2}, {3})), doctest::Contains("value -1"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, targets_of({0, -100, 2}, {3}), /*ignore_index=*/-1),
                         doctest::Contains("value -100"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, from_vector({0, 1, 2}, {3})),
                         doctest::Contains("'targets': expected dtype i32 or i64, got f32"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, targets_of({0, 1}, {2})),
                         doctest::Contains("'targets': expected shape [3]"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, targets_of({0, 1, 2}, {3, 1})),
                         doctest::Contains("'targets': expected shape [3]"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(zeros({3, 0}), t), doctest::Contains("V >= 1"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(zeros({3, 5}, DType::i64), t),
                         doctest::Contains("'logits': expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, Tensor()), doctest::Contains("'targets' is an undefined tensor"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, t, zeros({4})), doctest::Contains("'mask': expected shape [3]"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, t, zeros({3}, DType::f64)),
                         doctest::Contains("'mask': expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, t, from_vector({1, -1, 1}, {3})),
                         doctest::Contains("'mask': expected finite weights >= 0, got -1 at position 1"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(z, t, from_vector({1, NAN, 1}, {3})), doctest::Contains("'mask'"), Error);
  }
}
