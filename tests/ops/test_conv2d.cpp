// conv2d: gradients by finite differences in f64 (with and without bias, strided x, a strided
// incoming gradient, a kernel as large as the image, a 1 x 1 kernel); values and all three
// gradients against plain loops written here, on every device, across the 64-image blocks of
// the weight reduction; the same bits with one and two threads; bad input.
#include <doctest/doctest.h>

#include <vector>

#include "compare.h"
#include "devices.h"
#include "gradcheck.h"
#include "ops/conv/conv2d.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

struct Dims {
  int64_t N, C, H, W, O, KH, KW;
  int64_t OH() const { return H - KH + 1; }
  int64_t OW() const { return W - KW + 1; }
};

// The definition, one term at a time, and its chain rule: every term w·x sends dy·x to w and
// dy·w to x; every output sends dy to its bias.
struct Naive {
  std::vector<double> y, dx, dw, db;
};
Naive naive_conv2d(const Dims& d, const std::vector<double>& x, const std::vector<double>& w,
                   const std::vector<double>& b, const std::vector<double>& dy) {
  Naive r;
  r.y.assign(size_t(d.N * d.O * d.OH() * d.OW()), 0.0);
  r.dx.assign(x.size(), 0.0), r.dw.assign(w.size(), 0.0), r.db.assign(size_t(d.O), 0.0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t o = 0; o < d.O; ++o)
      for (int64_t i = 0; i < d.OH(); ++i)
        for (int64_t j = 0; j < d.OW(); ++j) {
          const size_t yi = size_t(((n * d.O + o) * d.OH() + i) * d.OW() + j);
          r.y[yi] = b[size_t(o)];
          r.db[size_t(o)] += dy[yi];
          for (int64_t c = 0; c < d.C; ++c)
            for (int64_t p = 0; p < d.KH; ++p)
              for (int64_t q = 0; q < d.KW; ++q) {
                const size_t xi = size_t(((n * d.C + c) * d.H + i + p) * d.W + j + q);
                const size_t wi = size_t(((o * d.C + c) * d.KH + p) * d.KW + q);
                r.y[yi] += w[wi] * x[xi];
                r.dw[wi] += dy[yi] * x[xi];
                r.dx[xi] += dy[yi] * w[wi];
              }
        }
  return r;
}

Tensor conv_with_bias(const Ts& in) { return conv2d(in[0], in[1], in[2]); }
Tensor conv_without_bias(const Ts& in) { return conv2d(in[0], in[1]); }

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck conv2d") {
    SUBCASE("with bias") { HQLT_CHECK_GRADIENTS(conv_with_bias, (Ts{leaf({2, 3, 5, 5}), leaf({4, 3, 2, 2}), leaf({4})})); }
    SUBCASE("without bias") { HQLT_CHECK_GRADIENTS(conv_without_bias, (Ts{leaf({2, 2, 4, 3}), leaf({3, 2, 2, 3})})); }
    SUBCASE("kernel as large as the image") {
      HQLT_CHECK_GRADIENTS(conv_with_bias, (Ts{leaf({3, 2, 3, 2}), leaf({2, 2, 3, 2}), leaf({2})}));
    }
    SUBCASE("1 x 1 kernel") { HQLT_CHECK_GRADIENTS(conv_with_bias, (Ts{leaf({2, 3, 3, 4}), leaf({2, 3, 1, 1}), leaf({2})})); }
    SUBCASE("strided x and incoming gradient") {
      auto f = [](const Ts& in) { return conv2d(in[0].transpose(2, 3), in[1], in[2]).transpose(1, 3); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 2, 4, 5}), leaf({3, 2, 2, 2}), leaf({3})}));
    }
    SUBCASE("only the weight needs a gradient") {
      Tensor x = leaf({2, 3, 4, 4});
      x.set_requires_grad(false);
      HQLT_CHECK_GRADIENTS(conv_with_bias, (Ts{x, leaf({2, 3, 2, 2}), leaf({2})}));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("conv2d matches the plain loops on every device") {
    for_each_device([](Device device) {
      // The agent's two layers (3 -> 8 and 8 -> 16 channels, 2 x 2 kernels on 5 x 5 and
      // 4 x 4 images) over 130 images: three blocks of the dw and db reductions.
      for (const Dims d : {Dims{130, 3, 5, 5, 8, 2, 2}, Dims{70, 8, 4, 4, 16, 2, 2}, Dims{3, 2, 4, 6, 3, 3, 2},
                           Dims{1, 1, 1, 1, 1, 1, 1}})
        for (const DType dtype : {DType::f64, DType::f32}) {
          CAPTURE(d.N);
          CAPTURE(d.C);
          CAPTURE(dtype);
          CAPTURE(device);
          const Tensor x0 = randn({d.N, d.C, d.H, d.W}, DType::f64), w0 = randn({d.O, d.C, d.KH, d.KW}, DType::f64);
          const Tensor b0 = randn({d.O}, DType::f64), dy0 = randn({d.N, d.O, d.OH(), d.OW()}, DType::f64);
          Tensor x = leaf_copy(x0, dtype, false, device), w = leaf_copy(w0, dtype, false, device);
          Tensor b = leaf_copy(b0, dtype, false, device);
          Tensor y = conv2d(x, w, b);
          CHECK(y.shape() == Shape{d.N, d.O, d.OH(), d.OW()});
          y.backward(dy0.to(dtype).to(device));
          const Naive want = naive_conv2d(d, x0.to_vector(), w0.to_vector(), b0.to_vector(), dy0.to_vector());
          const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
          expect_close(y.to(Device::cpu).to_vector(), want.y, tol);
          expect_close(x.grad().to(Device::cpu).to_vector(), want.dx, tol);
          expect_close(w.grad().to(Device::cpu).to_vector(), want.dw, tol * 10);
          expect_close(b.grad().to(Device::cpu).to_vector(), want.db, tol * 10);
        }
    });
  }
}

TEST_SUITE("unit") {
  TEST_CASE("conv2d by hand") {
    // One 2 x 2 image, one 2 x 2 kernel: a single output, the dot product plus the bias.
    const Tensor x = from_vector({1, 2, 3, 4}, {1, 1, 2, 2}), w = from_vector({1, 10, 100, 1000}, {1, 1, 2, 2});
    CHECK(conv2d(x, w, from_vector({0.5}, {1})).to_vector() == std::vector<double>{4321.5});
  }

  TEST_CASE("conv2d gives the same bits with one and with two threads") {
    const Tensor x0 = randn({200, 8, 4, 4}), w0 = randn({16, 8, 2, 2}), b0 = randn({16}), dy = randn({200, 16, 3, 3});
    const auto run = [&] {
      Tensor x = x0.detach(), w = w0.detach(), b = b0.detach();
      x.set_requires_grad(true), w.set_requires_grad(true), b.set_requires_grad(true);
      Tensor y = conv2d(x, w, b);
      y.backward(dy);
      return std::vector<std::vector<double>>{y.to_vector(), x.grad().to_vector(), w.grad().to_vector(),
                                              b.grad().to_vector()};
    };
    CHECK(with_threads(1, run) == with_threads(2, run));
  }

  TEST_CASE("conv2d bad input") {
    const Tensor x = zeros({2, 3, 5, 5});
    CHECK_THROWS_WITH_AS(conv2d(zeros({3, 5, 5}), zeros({4, 3, 2, 2})), doctest::Contains("conv2d"), Error);
    CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 2, 2, 2})), doctest::Contains("the channels of x"), Error);
    CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 6, 2})), doctest::Contains("fits in x's 5 x 5"), Error);
    CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 2, 2}), zeros({3})), doctest::Contains("argument 'bias'"), Error);
    CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 2, 2}, DType::f64)), doctest::Contains("conv2d"), Error);
  }
}
