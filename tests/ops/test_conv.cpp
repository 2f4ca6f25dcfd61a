// causal_conv1d: gradients by finite differences in f64 and f32-vs-f64 on shapes that hit
// the edges (T = 1, K = 1, K > T, one channel, strided x, strided incoming gradient, both
// weight layouts); values and gradients against plain loops written here; bad input.
#include <doctest/doctest.h>

#include "compare.h"

#include <vector>

#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/conv/causal_conv1d.h"
#include "ops/shape/views.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// The definition, one term at a time: x [B, T, Ch] and w [Ch, K] as row-major vectors.
std::vector<double> naive_conv(const std::vector<double>& x, const std::vector<double>& w, int64_t B, int64_t T,
                               int64_t Ch, int64_t K) {
  std::vector<double> y(size_t(B * T * Ch), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < Ch; ++c)
        for (int64_t j = 0; j < K; ++j) {
          int64_t src = t - (K - 1) + j;
          if (src >= 0) y[size_t((b * T + t) * Ch + c)] += w[size_t(c * K + j)] * x[size_t((b * T + src) * Ch + c)];
        }
  return y;
}

// The gradients by the chain rule on the same loop: every term w·x sends dy·x to w, dy·w to x.
void naive_conv_backward(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& dy,
                         int64_t B, int64_t T, int64_t Ch, int64_t K, std::vector<double>& dx,
                         std::vector<double>& dw) {
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < Ch; ++c)
        for (int64_t j = 0; j < K; ++j) {
          int64_t src = t - (K - 1) + j;
          if (src < 0) continue;
          double g = dy[size_t((b * T + t) * Ch + c)];
          dx[size_t((b * T + src) * Ch + c)] += g * w[size_t(c * K + j)];
          dw[size_t(c * K + j)] += g * x[size_t((b * T + src) * Ch + c)];
        }
}


Tensor conv_of(const Ts& in) { return causal_conv1d(in[0], in[1]); }

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck causal_conv1d") {
    SUBCASE("weight [Ch, 1, K]") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({2, 5, 3}), leaf({3, 1, 4})})); }
    SUBCASE("weight [Ch, K]") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({2, 5, 3}), leaf({3, 4})})); }
    SUBCASE("T = 1") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({2, 1, 3}), leaf({3, 1, 4})})); }
    SUBCASE("K = 1") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({2, 4, 3}), leaf({3, 1, 1})})); }
    SUBCASE("K > T") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({1, 3, 2}), leaf({2, 6})})); }
    SUBCASE("one channel") { HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({3, 5, 1}), leaf({1, 1, 3})})); }
    SUBCASE("strided x and weight") {
      HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf_transposed({2, 6, 5}), leaf_transposed({5, 4})}));
    }
    SUBCASE("x a time slice of a longer sequence") {
      Tensor base = leaf({2, 9, 3});
      Tensor x;
      {
        NoGrad ng;
        x = base.slice(1, 1, 9, 2).detach();  // every other step: stride 2·Ch along time
      }
      x.set_requires_grad(true);
      HQLT_CHECK_GRADIENTS(conv_of, (Ts{x, leaf({3, 1, 4})}));
    }
    SUBCASE("strided incoming gradient") {
      auto f = [](const Ts& in) { return causal_conv1d(in[0], in[1]).transpose(1, 2); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 5, 3}), leaf({3, 1, 4})}));
    }
    SUBCASE("only x needs a gradient") {
      Tensor w = leaf({3, 1, 4});
      w.set_requires_grad(false);
      HQLT_CHECK_GRADIENTS(conv_of, (Ts{leaf({2, 5, 3}), w}));
    }
    SUBCASE("only weight needs a gradient") {
      Tensor x = leaf({2, 5, 3});
      x.set_requires_grad(false);
      HQLT_CHECK_GRADIENTS(conv_of, (Ts{x, leaf({3, 4})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("causal_conv1d by hand") {
    // One channel, taps (a, b, c) = (1, 10, 100): c multiplies the current token.
    Tensor x = from_vector({1, 2, 3}, {1, 3, 1});
    Tensor w = from_vector({1, 10, 100}, {1, 1, 3});
    CHECK(causal_conv1d(x, w).to_vector() == std::vector<double>{100, 210, 321});
  }

  TEST_CASE("causal_conv1d matches the plain loops") {
    struct Case {
      int64_t B, T, Ch, K;
      bool three_dim_weight;
    };
    // The last case is large enough for the threaded path and for several dw row blocks.
    for (Case k : {Case{2, 7, 5, 4, true}, Case{1, 1, 3, 4, false}, Case{3, 4, 2, 1, true}, Case{2, 3, 4, 6, false},
                   Case{3, 100, 40, 4, true}}) {
      for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(k.B);
        CAPTURE(k.T);
        CAPTURE(k.Ch);
        CAPTURE(k.K);
        CAPTURE(dtype);
        Tensor x = randn({k.B, k.T, k.Ch}, dtype);
        Tensor w = randn(k.three_dim_weight ? Shape{k.Ch, 1, k.K} : Shape{k.Ch, k.K}, dtype);
        Tensor dy = randn({k.B, k.T, k.Ch}, dtype);
        x.set_requires_grad(true);
        w.set_requires_grad(true);
        Tensor y = causal_conv1d(x, w);
        CHECK(y.shape() == x.shape());
        CHECK(y.dtype() == dtype);
        y.backward(dy);
        CHECK(x.grad().shape() == x.shape());
        CHECK(w.grad().shape() == w.shape());
        std::vector<double> dx, dw;
        naive_conv_backward(x.to_vector(), w.to_vector(), dy.to_vector(), k.B, k.T, k.Ch, k.K, dx, dw);
        double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
        expect_close(y.to_vector(), naive_conv(x.to_vector(), w.to_vector(), k.B, k.T, k.Ch, k.K), tol);
        expect_close(x.grad().to_vector(), dx, tol);
        expect_close(w.grad().to_vector(), dw, tol);
      }
    }
  }

  TEST_CASE("causal_conv1d gives the same bits on any thread count") {
    Tensor x = randn({4, 300, 33});
    Tensor w = randn({33, 1, 4});
    Tensor dy = randn({4, 300, 33});
    auto run = [&] {
      Tensor xl = x.detach(), wl = w.detach();
      xl.set_requires_grad(true);
      wl.set_requires_grad(true);
      Tensor y = causal_conv1d(xl, wl);
      y.backward(dy);
      return std::vector<std::vector<double>>{y.to_vector(), xl.grad().to_vector(), wl.grad().to_vector()};
    };
    CHECK(hqlt::testing::with_threads(1, run) == hqlt::testing::with_threads(4, run));
  }

  TEST_CASE("causal_conv1d bad input") {
    Tensor x = zeros({2, 5, 3}), w = zeros({3, 1, 4});
    CHECK_THROWS_WITH_AS(causal_conv1d(zeros({5, 3}), w), doctest::Contains("argument 'x': expected rank 3"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({4})), doctest::Contains("argument 'weight': expected rank 2"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({3, 1, 4, 1})), doctest::Contains("got shape [3, 1, 4, 1]"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({3, 2, 4})), doctest::Contains("expected shape [Ch, 1, K]"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({4, 1, 4})), doctest::Contains("expected dim 0 == 3"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({3, 0})), doctest::Contains("kernel size K >= 1"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, zeros({3, 1, 4}, DType::f64)), doctest::Contains("expected dtype f32"),
                         Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(zeros({2, 5, 3}, DType::i64), zeros({3, 1, 4}, DType::i64)),
                         doctest::Contains("expected dtype f32 or f64, got i64"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(Tensor(), w), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(causal_conv1d(x, Tensor()), doctest::Contains("undefined"), Error);
  }
}
