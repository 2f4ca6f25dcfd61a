// The GPU's unit of work of rope (ops/rope/rope_math.h, rotate_pair_in_every_head) run on
// the host for every pair, against the CPU op, forward (+φ) and backward (−φ): the same
// frequencies, angles and pair rotation, so the two agree to rounding. Shapes: several
// heads, d = 2, T = 1, a position offset.
#include <doctest/doctest.h>

#include <vector>

#include "compare.h"
#include "engine/rng.h"
#include "ops/rope/rope.h"
#include "ops/rope/rope_math.h"

using namespace hqlt;
using hqlt::testing::expect_close;

namespace {

template <typename T>
std::vector<double> gpu_rotation(const Tensor& x, double base, int64_t offset, int direction) {
  const detail::RopeShape s{x.size(0) * x.size(1), x.size(1), x.size(2), x.size(3), offset};
  const std::vector<float> inv_freq = detail::rope_inv_freqs(s.head_dim, base);
  Tensor out = full(x.shape(), NAN, x.dtype());
  for (int64_t e = 0; e < s.rows * (s.head_dim / 2); ++e)
    detail::rotate_pair_in_every_head(x.data<T>(), inv_freq.data(), s, T(direction), e, out.data<T>());
  return out.to_vector();
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("rope GPU unit of work matches the CPU op forward and backward") {
    manual_seed(41);
    struct Case {
      Shape shape;
      double base;
      int64_t offset;
    };
    for (const Case& c : {Case{{2, 5, 3, 8}, 10000, 0}, Case{{1, 4, 1, 2}, 100, 2}, Case{{3, 1, 2, 6}, 10000, 9}}) {
      for (DType dt : {DType::f32, DType::f64}) {
        CAPTURE(shape_str(c.shape));
        CAPTURE(dt);
        Tensor x = randn(c.shape, dt).set_requires_grad(true);
        Tensor y = rope(x, c.base, c.offset);
        Tensor dy = randn(c.shape, dt);
        y.backward(dy);
        const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
        dispatch_float(dt, "test", [&]<typename T>() {
          expect_close(gpu_rotation<T>(x, c.base, c.offset, +1), y.to_vector(), tol);
          expect_close(gpu_rotation<T>(dy, c.base, c.offset, -1), x.grad().to_vector(), tol);
        });
      }
    }
  }
}
