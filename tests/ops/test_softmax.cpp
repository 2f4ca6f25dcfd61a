// softmax and log_softmax: gradients by finite differences in f64 and f32-vs-f64 along
// every dim of a 3-D tensor, on non-contiguous inputs, size-1 dims and −inf entries;
// values against a naive per-row loop; the all −inf row; bad arguments.
#include <doctest/doctest.h>

#include "compare.h"

#include <cmath>
#include <limits>

#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/softmax/softmax.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using SoftmaxFn = Tensor (*)(const Tensor&, int64_t);

// Every dim of a 3-D tensor, contiguous and not, with a size-1 dim; then softmax over a
// size-1 dim itself (output 1, gradient 0) and a 1-D input. (Plain loops, not SUBCASEs:
// doctest would run a SUBCASE inside a loop for its first iteration only.)
void check_softmax_gradients(SoftmaxFn op) {
  for (int64_t dim : {0, 1, -1}) {
    CAPTURE(dim);
    auto f = [op, dim](const Ts& x) { return op(x[0], dim); };
    HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4, 5})}));
    HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({2, 3, 4})}));
    HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 1, 4})}));
  }
  HQLT_CHECK_GRADIENTS([op](const Ts& x) { return op(x[0], 1); }, (Ts{leaf({2, 1, 3})}));
  HQLT_CHECK_GRADIENTS([op](const Ts& x) { return op(x[0], 0); }, (Ts{leaf({7})}));
}

// The softmax of each row of x along `dim`, by a plain loop over logical indices.
std::vector<double> naive_softmax(const Tensor& x, int64_t dim, bool log) {
  std::vector<double> v = x.to_vector();
  Shape s = x.shape();
  int64_t inner = 1;
  for (size_t i = size_t(dim) + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t n = s[size_t(dim)], outer = x.numel() / (n * inner);
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return size_t(o * n * inner + k * inner + i); };
      double m = -kInf, sum = 0;
      for (int64_t k = 0; k < n; ++k) m = std::max(m, v[at(k)]);
      for (int64_t k = 0; k < n; ++k) sum += std::exp(v[at(k)] - m);
      for (int64_t k = 0; k < n; ++k) out[at(k)] = log ? v[at(k)] - m - std::log(sum) : std::exp(v[at(k)] - m) / sum;
    }
  return out;
}


}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck softmax") {
    check_softmax_gradients(softmax);
    {  // −inf entries (masked) get probability 0 and gradient 0
      Tensor x = from_vector({0.3, -kInf, 1.2, -0.7, -kInf, 0.1, 2.0, -kInf}, {2, 4}, DType::f64);
      x.set_requires_grad(true);
      HQLT_CHECK_GRADIENTS([](const Ts& t) { return softmax(t[0], -1); }, (Ts{x}));
    }
  }
  TEST_CASE("gradcheck log_softmax") { check_softmax_gradients(log_softmax); }
}

TEST_SUITE("unit") {
  TEST_CASE("softmax and log_softmax match a naive loop along every dim") {
    for (DType dtype : {DType::f32, DType::f64}) {
      Tensor x = randn({2, 3, 5}, dtype, Device::cpu, 0.0, 3.0);
      double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
      for (int64_t dim = 0; dim < 3; ++dim) {
        CAPTURE(dtype);
        CAPTURE(dim);
        expect_close(softmax(x, dim).to_vector(), naive_softmax(x, dim, false), tol);
        expect_close(log_softmax(x, dim).to_vector(), naive_softmax(x, dim, true), tol);
        expect_close(softmax(x, dim - 3).to_vector(), naive_softmax(x, dim, false), tol);
      }
      Tensor xt = x.transpose(0, 2);  // a non-contiguous view
      expect_close(softmax(xt, 1).to_vector(), naive_softmax(clone_contiguous(xt), 1, false), tol);
    }
  }
  TEST_CASE("softmax on a large tensor (parallel rows) matches the naive loop - same bits for any thread count") {
    Tensor x = randn({96, 700}, DType::f32, Device::cpu, 0.0, 4.0);
    for (int64_t dim : {0, 1}) {
      CAPTURE(dim);
      std::vector<double> many = softmax(x, dim).to_vector();
      expect_close(many, naive_softmax(x, dim, false), 1e-5);
      CHECK(hqlt::testing::with_threads(1, [&] { return softmax(x, dim).to_vector(); }) == many);
    }
  }
  TEST_CASE("softmax is stable for huge logits") {
    Tensor x = from_vector({1000, 1001, 1002, -1000}, {4}, DType::f32);
    std::vector<double> y = softmax(x, 0).to_vector();
    double e1 = std::exp(-1.0), e2 = std::exp(-2.0), z = 1 + e1 + e2;
    CHECK(y[0] == doctest::Approx(e2 / z));
    CHECK(y[2] == doctest::Approx(1 / z));
    CHECK(y[3] == 0);
    CHECK(log_softmax(x, 0).to_vector()[2] == doctest::Approx(-std::log(z)));
  }
  TEST_CASE("softmax of an all -inf row is zeros - log_softmax is -inf - gradients stay finite") {
    Tensor x = from_vector({-kInf, -kInf, -kInf, 0.5, -kInf, 1.5}, {2, 3}, DType::f64);
    x.set_requires_grad(true);
    Tensor y = softmax(x, 1);
    std::vector<double> v = y.to_vector();
    CHECK(v[0] == 0);
    CHECK(v[1] == 0);
    CHECK(v[2] == 0);
    CHECK(v[3] == doctest::Approx(1 / (1 + std::exp(1.0))));
    CHECK(v[4] == 0);
    Tensor g = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
    y.backward(g);
    for (double d : x.grad().to_vector()) CHECK(std::isfinite(d));
    CHECK(x.grad().to_vector()[0] == 0);

    Tensor x2 = from_vector({-kInf, -kInf, -kInf, 0.5, -kInf, 1.5}, {2, 3}, DType::f64);
    x2.set_requires_grad(true);
    Tensor ly = log_softmax(x2, 1);
    std::vector<double> lv = ly.to_vector();
    CHECK(lv[0] == -kInf);
    CHECK(lv[4] == -kInf);
    CHECK(std::isfinite(lv[3]));
    ly.backward(g);
    // d log_softmax_k / d x_k = 1 − p_k, which is exactly 1 where p_k = 0.
    std::vector<double> dx = x2.grad().to_vector();
    CHECK(dx[0] == 1);
    CHECK(dx[4] == 5);
    for (double d : dx) CHECK(std::isfinite(d));
  }
  TEST_CASE("softmax propagates NaN instead of hiding it") {
    Tensor x = from_vector({NAN, NAN, 1, NAN, -kInf, 0}, {2, 3}, DType::f32);
    for (double v : softmax(x, 1).to_vector()) CHECK(std::isnan(v));
    for (double v : log_softmax(x, 1).to_vector()) CHECK(std::isnan(v));
  }
  TEST_CASE("softmax backward accepts a non-contiguous gradient") {
    Tensor x = randn({3, 4}, DType::f64);
    x.set_requires_grad(true);
    Tensor g = randn({4, 3}, DType::f64);
    Tensor y = softmax(x, 1);
    y.backward(g.transpose(0, 1));
    std::vector<double> yv = y.to_vector(), gv = clone_contiguous(g.transpose(0, 1)).to_vector(),
                        dx = x.grad().to_vector();
    for (int r = 0; r < 3; ++r) {
      double dot = 0;
      for (int k = 0; k < 4; ++k) dot += gv[size_t(r * 4 + k)] * yv[size_t(r * 4 + k)];
      for (int k = 0; k < 4; ++k) {
        size_t i = size_t(r * 4 + k);
        CHECK(dx[i] == doctest::Approx(yv[i] * (gv[i] - dot)));
      }
    }
  }
  TEST_CASE("softmax bad input") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax: dim 2 is out of range"), Error);
    CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("log_softmax: dim -3 is out of range"), Error);
    CHECK_THROWS_WITH_AS(softmax(zeros({2}, DType::i64), 0), doctest::Contains("expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(softmax(Tensor(), 0), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(softmax(zeros({}), 0), doctest::Contains("expected rank >= 1"), Error);
  }
}
