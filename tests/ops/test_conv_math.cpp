// The GPU algorithm of causal_conv1d (ops/conv/causal_conv1d_math.h: one output element
// per thread for y and dx; dw as partial sums over blocks of 128 rows, then added in block
// order) run on the host for every element, against the CPU op's output and gradients.
// Shapes: K = 1, K > T, T = 1, and B·T = 300 rows, three row blocks, one of them partial.
#include <doctest/doctest.h>

#include <vector>

#include "compare.h"
#include "engine/rng.h"
#include "ops/conv/causal_conv1d.h"
#include "ops/conv/causal_conv1d_math.h"

using namespace hqlt;
using hqlt::testing::expect_close;

namespace {

struct GpuResult {
  std::vector<double> y, dx, dw;
};

// x, dy [B, T, Ch]; w [Ch, K]. The taps are read as [K, Ch], as the op lays them out.
template <typename T>
GpuResult gpu_algorithm(const Tensor& x, const Tensor& w, const Tensor& dy) {
  const detail::ConvShape s{x.size(0), x.size(1), x.size(2), w.size(1)};
  Tensor taps = w.transpose(0, 1).contiguous();
  GpuResult r;
  for (int64_t e = 0; e < s.rows() * s.channels; ++e) {
    r.y.push_back(detail::shifted_tap_value(x.data<T>(), taps.data<T>(), s, false, e));
    r.dx.push_back(detail::shifted_tap_value(dy.data<T>(), taps.data<T>(), s, true, e));
  }
  std::vector<T> partial;
  for (int64_t e = 0; e < detail::conv_row_blocks(s) * s.taps * s.channels; ++e)
    partial.push_back(detail::dw_block_partial(dy.data<T>(), x.data<T>(), s, e));
  r.dw.assign(size_t(s.channels * s.taps), NAN);
  for (int64_t e = 0; e < s.taps * s.channels; ++e)
    r.dw[size_t((e % s.channels) * s.taps + e / s.channels)] = detail::dw_total(partial.data(), s, e);
  return r;
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("causal_conv1d GPU algorithm matches the CPU op") {
    manual_seed(51);
    struct Case {
      int64_t B, T, Ch, K;
    };
    for (Case c : {Case{2, 7, 5, 4}, Case{3, 4, 2, 1}, Case{1, 3, 2, 6}, Case{2, 1, 3, 4}, Case{2, 150, 9, 4}}) {
      for (DType dt : {DType::f32, DType::f64}) {
        CAPTURE(c.B);
        CAPTURE(c.T);
        CAPTURE(c.Ch);
        CAPTURE(c.K);
        CAPTURE(dt);
        Tensor x = randn({c.B, c.T, c.Ch}, dt).set_requires_grad(true);
        Tensor w = randn({c.Ch, c.K}, dt).set_requires_grad(true);
        Tensor y = causal_conv1d(x, w);
        Tensor dy = randn(y.shape(), dt);
        y.backward(dy);
        const double tol = dt == DType::f32 ? 1e-5 : 1e-13;
        dispatch_float(dt, "test", [&]<typename T>() {
          const GpuResult r = gpu_algorithm<T>(x.detach(), w.detach(), dy);
          expect_close(r.y, y.to_vector(), tol);
          expect_close(r.dx, x.grad().to_vector(), tol);
          expect_close(r.dw, w.grad().to_vector(), tol);
        });
      }
    }
  }
}
