// rms_norm and l2_normalize: gradients by finite differences in f64 and f32-vs-f64 (with
// and without weight, D = 1, non-contiguous inputs, a zero row); values against a naive
// loop; the weight gradient is the same bits for any thread count; bad arguments.
#include <doctest/doctest.h>

#include "compare.h"

#include <cmath>

#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/norm/norm.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Each row of x [rows, D] scaled by 1 / sqrt(Σx²/c + eps), times w (if given).
std::vector<double> naive_norm(const Tensor& x, const std::vector<double>& w, double eps, bool mean) {
  std::vector<double> v = clone_contiguous(x).to_vector();
  const int64_t d = x.size(-1), rows = x.numel() / d;
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < rows; ++i) {
    double ss = 0;
    for (int64_t k = 0; k < d; ++k) ss += v[size_t(i * d + k)] * v[size_t(i * d + k)];
    double r = 1 / std::sqrt((mean ? ss / double(d) : ss) + eps);
    for (int64_t k = 0; k < d; ++k)
      out[size_t(i * d + k)] = v[size_t(i * d + k)] * r * (w.empty() ? 1.0 : w[size_t(k)]);
  }
  return out;
}


// A leaf whose second row is all zeros.
Tensor leaf_with_zero_row(const Shape& shape) {
  Tensor x = randn(shape, DType::f64);
  for (int64_t k = 0; k < shape.back(); ++k) x.data<double>()[shape.back() + k] = 0;
  x.set_requires_grad(true);
  return x;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck rms_norm") {
    auto with_weight = [](const Ts& x) { return rms_norm(x[0], x[1], 1e-5); };
    auto no_weight = [](const Ts& x) { return rms_norm(x[0], Tensor(), 1e-5); };
    SUBCASE("with weight") { HQLT_CHECK_GRADIENTS(with_weight, (Ts{leaf({2, 3, 5}), leaf({5})})); }
    SUBCASE("without weight") { HQLT_CHECK_GRADIENTS(no_weight, (Ts{leaf({3, 6})})); }
    SUBCASE("D = 1") {
      // y = w·x/sqrt(x² + eps): keep |x| away from 0, where it jumps from -w to w.
      auto f = [](const Ts& x) { return rms_norm(x[0], x[1], 0.5); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({4, 1}), leaf({1})}));
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return rms_norm(x[0], Tensor(), 0.5); }, (Ts{leaf({3, 1})}));
    }
    SUBCASE("non-contiguous x") { HQLT_CHECK_GRADIENTS(with_weight, (Ts{leaf_transposed({4, 7}), leaf({7})})); }
    SUBCASE("weight without gradient") {
      Tensor w = randn({5}, DType::f64);
      HQLT_CHECK_GRADIENTS(with_weight, (Ts{leaf({3, 5}), w}));
    }
    SUBCASE("a zero row") { HQLT_CHECK_GRADIENTS(with_weight, (Ts{leaf_with_zero_row({3, 4}), leaf({4})})); }
  }
  TEST_CASE("gradcheck l2_normalize") {
    auto f = [](const Ts& x) { return l2_normalize(x[0]); };
    SUBCASE("3-D") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 5})})); }
    SUBCASE("non-contiguous") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 6})})); }
    SUBCASE("D = 1, larger eps") {
      HQLT_CHECK_GRADIENTS([](const Ts& x) { return l2_normalize(x[0], 0.5); }, (Ts{leaf({4, 1})}));
    }
    SUBCASE("a zero row") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf_with_zero_row({3, 4})})); }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("rms_norm and l2_normalize match a naive loop") {
    for (DType dtype : {DType::f32, DType::f64}) {
      CAPTURE(dtype);
      const double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
      Tensor x = randn({2, 3, 7}, dtype, Device::cpu, 0.0, 2.0);
      Tensor w = randn({7}, dtype);
      expect_close(rms_norm(x, w, 1e-6).to_vector(), naive_norm(x, w.to_vector(), 1e-6, true), tol);
      expect_close(rms_norm(x, Tensor(), 1e-6).to_vector(), naive_norm(x, {}, 1e-6, true), tol);
      expect_close(l2_normalize(x).to_vector(), naive_norm(x, {}, 1e-6, false), tol);
      expect_close(l2_normalize(x, 0.1).to_vector(), naive_norm(x, {}, 0.1, false), tol);
      Tensor xt = x.transpose(0, 2);  // non-contiguous [7, 3, 2]
      expect_close(l2_normalize(xt).to_vector(), naive_norm(xt, {}, 1e-6, false), tol);
    }
  }
  TEST_CASE("l2_normalize maps a zero vector to zero and has unit norm otherwise") {
    Tensor x = from_vector({0, 0, 0, 3, 4, 0}, {2, 3});
    std::vector<double> y = l2_normalize(x).to_vector();
    CHECK(y[0] == 0);
    CHECK(y[1] == 0);
    CHECK(y[3] == doctest::Approx(0.6));
    CHECK(y[4] == doctest::Approx(0.8));
  }
  TEST_CASE("rms_norm by hand") {
    // Row (3, 4): mean square 12.5; with eps = 0, x̂ = (3, 4) / sqrt(12.5).
    Tensor x = from_vector({3, 4}, {1, 2}, DType::f64);
    Tensor w = from_vector({2, -1}, {2}, DType::f64);
    std::vector<double> y = rms_norm(x, w, 0.0).to_vector();
    CHECK(y[0] == doctest::Approx(6 / std::sqrt(12.5)));
    CHECK(y[1] == doctest::Approx(-4 / std::sqrt(12.5)));
  }
  TEST_CASE("rms_norm on many rows (parallel): gradients are the same bits for any thread count") {
    Tensor x = randn({300, 130}, DType::f32);
    Tensor w = randn({130}, DType::f32);
    Tensor g = randn({300, 130}, DType::f32);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    auto run = [&] {
      x.zero_grad();
      w.zero_grad();
      Tensor y = rms_norm(x, w, 1e-6);
      y.backward(g);
      return std::vector<std::vector<double>>{y.to_vector(), x.grad().to_vector(), w.grad().to_vector()};
    };
    auto many = run();
    CHECK(hqlt::testing::with_threads(1, run) == many);
    expect_close(many[0], naive_norm(x.detach(), w.to_vector(), 1e-6, true), 1e-5);
  }
  TEST_CASE("rms_norm bad input") {
    Tensor x = zeros({2, 4});
    CHECK_THROWS_WITH_AS(rms_norm(x, zeros({3}), 1e-6),
                         doctest::Contains("rms_norm: argument 'weight': expected shape [4]"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(x, zeros({1, 4}), 1e-6), doctest::Contains("expected shape [4]"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(x, zeros({4}, DType::f64), 1e-6),
                         doctest::Contains("'weight': expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(x, Tensor(), -1.0), doctest::Contains("'eps': expected a finite value >= 0"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(x, Tensor(), NAN), doctest::Contains("'eps'"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(zeros({2, 0}), Tensor(), 1e-6), doctest::Contains("D >= 1"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(zeros({}), Tensor(), 1e-6), doctest::Contains("D >= 1"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(zeros({2, 4}, DType::i32), Tensor(), 1e-6),
                         doctest::Contains("'x': expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(rms_norm(Tensor(), Tensor(), 1e-6), doctest::Contains("undefined"), Error);
  }
  TEST_CASE("l2_normalize bad input") {
    CHECK_THROWS_WITH_AS(l2_normalize(zeros({3, 0})), doctest::Contains("l2_normalize: argument 'x'"), Error);
    CHECK_THROWS_WITH_AS(l2_normalize(zeros({3}, DType::i64)), doctest::Contains("expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(l2_normalize(zeros({3}), -1e-6), doctest::Contains("'eps'"), Error);
  }
}
