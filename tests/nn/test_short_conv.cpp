// ShortConvolution: the [Ch, 1, K] weight, values against a naive causal loop with and
// without the SiLU, streaming in pieces equals one call, gradients by finite differences,
// bad inputs.
#include <doctest/doctest.h>

#include "compare.h"

#include <cmath>

#include "gradcheck.h"
#include "engine/rng.h"
#include "nn/short_conv.h"

using namespace hqlt;
using namespace hqlt::nn;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// y[b, t, c] = act(Σ_i w[c, 0, i] · x[b, t-(K-1)+i, c]), zeros before t = 0 (§1.4).
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, bool silu) {
  std::vector<double> xv = x.to_vector(), wv = w.to_vector();
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), K = w.size(2);
  std::vector<double> y(xv.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) {
        double s = 0;
        for (int64_t i = 0; i < K; ++i) {
          int64_t src = t - (K - 1) + i;
          if (src >= 0) s += wv[size_t(c * K + i)] * xv[size_t((b * T + src) * C + c)];
        }
        y[size_t((b * T + t) * C + c)] = silu ? s / (1 + std::exp(-s)) : s;
      }
  return y;
}


}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::ShortConvolution against a naive causal loop") {
    ShortConvolution silu_conv(5, 4);  // the reference's default activation is SiLU
    ShortConvolution plain(5, 4, ConvActivation::none);
    CHECK(silu_conv.weight.shape() == Shape{5, 1, 4});
    CHECK(silu_conv.named_parameters()[0].first == "weight");
    CHECK(silu_conv.activation == ConvActivation::silu);
    Tensor x = randn({2, 7, 5});
    expect_close(silu_conv.forward(x).to_vector(), naive_conv(x, silu_conv.weight, true), 1e-5);
    expect_close(plain.forward(x).to_vector(), naive_conv(x, plain.weight, false), 1e-5);
    // K larger than T: the early taps only meet zeros.
    ShortConvolution wide(3, 6, ConvActivation::none);
    Tensor xs = randn({1, 2, 3});
    expect_close(wide.forward(xs).to_vector(), naive_conv(xs, wide.weight, false), 1e-5);
  }

  TEST_CASE("nn::ShortConvolution streaming equals one call") {
    for (int64_t k : {1, 2, 4}) {
      CAPTURE(k);
      ShortConvolution conv(3, k);
      Tensor x = randn({2, 9, 3});
      std::vector<double> full = conv.forward(x).to_vector();
      Tensor state = conv.initial_state(2);
      CHECK(state.shape() == Shape{2, k - 1, 3});
      std::vector<Tensor> pieces;
      int64_t t = 0;
      for (int64_t len : {1, 3, 1, 4}) {
        pieces.push_back(conv.forward(x.slice(1, t, t + len), state));
        t += len;
      }
      std::vector<double> streamed;
      for (int64_t b = 0; b < 2; ++b)
        for (const Tensor& p : pieces) {
          std::vector<double> v = p.slice(0, b, b + 1).to_vector();
          streamed.insert(streamed.end(), v.begin(), v.end());
        }
      expect_close(streamed, full, 1e-6);
      if (k > 1) expect_close(state.to_vector(), x.slice(1, 9 - (k - 1), 9).to_vector(), 0);
    }
  }

  TEST_CASE("nn::ShortConvolution bad inputs") {
    ShortConvolution conv(4, 3);
    CHECK_THROWS_WITH_AS(conv.forward(randn({2, 5, 3})), doctest::Contains("expected [B, T, 4]"), Error);
    CHECK_THROWS_WITH_AS(conv.forward(randn({5, 4})), doctest::Contains("expected [B, T, 4]"), Error);
    Tensor bad_state = zeros({2, 3, 4});
    CHECK_THROWS_WITH_AS(conv.forward(randn({2, 5, 4}), bad_state), doctest::Contains("argument 'state'"), Error);
    CHECK_THROWS_WITH_AS(ShortConvolution(4, 0), doctest::Contains("kernel_size >= 1"), Error);
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck ShortConvolution") {
    auto with_silu = std::make_shared<ShortConvolution>(3, 4);
    auto plain = std::make_shared<ShortConvolution>(3, 2, ConvActivation::none);
    auto f = [with_silu](const Ts& x) {
      with_silu->weight = x[1];
      return with_silu->forward(x[0]);
    };
    auto fp = [plain](const Ts& x) {
      plain->weight = x[1];
      return plain->forward(x[0]);
    };
    SUBCASE("SiLU, T not a multiple of K") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 5, 3}), leaf({3, 1, 4})})); }
    SUBCASE("SiLU, T = 1") { HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1, 1, 3}), leaf({3, 1, 4})})); }
    SUBCASE("no activation, non-contiguous x") {
      HQLT_CHECK_GRADIENTS(fp, (Ts{leaf_transposed({2, 4, 3}), leaf({3, 1, 2})}));
    }
    SUBCASE("streaming with a state") {
      auto fs = [plain](const Ts& x) {
        plain->weight = x[1];
        Tensor state = x[2];
        return plain->forward(x[0], state);
      };
      HQLT_CHECK_GRADIENTS(fs, (Ts{leaf({2, 3, 3}), leaf({3, 1, 2}), leaf({2, 1, 3})}));
    }
  }
}
