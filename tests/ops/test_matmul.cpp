// matmul: every transpose combination, broadcast batches, strided operands, against a
// naive triple loop and by finite differences.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "ops/matmul/matmul.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// op(a) · op(b) for 2-D a, b by the definition.
std::vector<double> naive(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  std::vector<double> av = a.to_vector(), bv = b.to_vector();
  int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  int64_t n = tb ? b.size(0) : b.size(1);
  std::vector<double> c(size_t(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) {
        double x = ta ? av[size_t(p * m + i)] : av[size_t(i * k + p)];
        double y = tb ? bv[size_t(j * k + p)] : bv[size_t(p * n + j)];
        c[size_t(i * n + j)] += x * y;
      }
  return c;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck matmul") {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        CAPTURE(ta);
        CAPTURE(tb);
        auto f = [=](const Ts& x) { return matmul(x[0], x[1], ta, tb); };
        Shape sa = ta ? Shape{4, 3} : Shape{3, 4}, sb = tb ? Shape{5, 4} : Shape{4, 5};
        HQLT_CHECK_GRADIENTS(f, (Ts{leaf(sa), leaf(sb)}));
        // Batched, with a broadcast batch dim on each side.
        Shape ba = sa, bb = sb;
        ba.insert(ba.begin(), {2, 1});
        bb.insert(bb.begin(), {1, 3});
        HQLT_CHECK_GRADIENTS(f, (Ts{leaf(ba), leaf(bb)}));
        // Non-contiguous (stored transposed) operands, and a 2-D times 3-D broadcast.
        HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed(sa), leaf_transposed(sb)}));
        HQLT_CHECK_GRADIENTS(f, (Ts{leaf(sa), leaf(bb)}));
      }
    // Degenerate sizes: vectors as 1-row / 1-column matrices, K = 1.
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return matmul(x[0], x[1]); }, (Ts{leaf({1, 3}), leaf({3, 1})}));
    HQLT_CHECK_GRADIENTS([](const Ts& x) { return matmul(x[0], x[1]); }, (Ts{leaf({4, 1}), leaf({1, 2})}));
  }
}

TEST_SUITE("unit") {
  TEST_CASE("matmul against the definition - all transposes - awkward sizes") {
    for (int64_t m : {1, 7, 33})
      for (int64_t n : {1, 5, 40})
        for (int64_t k : {1, 9, 70})
          for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
              CAPTURE(m);
              CAPTURE(n);
              CAPTURE(k);
              CAPTURE(ta);
              CAPTURE(tb);
              Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, DType::f64);
              Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, DType::f64);
              std::vector<double> got = matmul(a, b, ta, tb).to_vector(), want = naive(a, b, ta, tb);
              for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
            }
  }
  TEST_CASE("matmul batches match per-matrix products") {
    Tensor a = randn({3, 2, 4, 5}, DType::f32), b = randn({2, 5, 6}, DType::f32);
    Tensor c = matmul(a, b);
    CHECK(c.shape() == Shape{3, 2, 4, 6});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        Tensor ai = a.slice(0, i, i + 1).slice(1, j, j + 1).reshape({4, 5});
        Tensor bj = b.slice(0, j, j + 1).reshape({5, 6});
        std::vector<double> want = naive(ai, bj, false, false);
        std::vector<double> got = c.slice(0, i, i + 1).slice(1, j, j + 1).reshape({24}).to_vector();
        for (size_t e = 0; e < 24; ++e) CHECK(got[e] == doctest::Approx(want[e]).epsilon(1e-5));
      }
  }
  TEST_CASE("matmul bad input") {
    CHECK_THROWS_WITH_AS(matmul(zeros({3, 4}), zeros({5, 6})), doctest::Contains("expected its second-to-last dim to be 4"),
                         Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({4}), zeros({4, 2})), doctest::Contains("at least 2 dims"), Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), doctest::Contains("cannot be broadcast"), Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({3, 4}), zeros({4, 2}, DType::f64)), doctest::Contains("expected dtype f32"),
                         Error);
    CHECK_THROWS_WITH_AS(matmul(zeros({3, 4}, DType::i64), zeros({4, 2}, DType::i64)),
                         doctest::Contains("f32 or f64"), Error);
  }
}
