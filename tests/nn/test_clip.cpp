// Global-norm clipping by hand: the pre-clip norm is returned, gradients scale by
// max_norm/(N + 1e-6) only when that is below 1, parameters without a gradient are skipped,
// a non-finite norm changes nothing, and the norm has the same bits for any thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/parallel.h"
#include "engine/rng.h"
#include "nn/clip.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::nn;

namespace {

Tensor with_grad(const std::vector<double>& g, DType dtype = DType::f64) {
  Tensor p = zeros({int64_t(g.size())}, dtype);
  p.set_requires_grad(true);
  p.set_grad(from_vector(g, {int64_t(g.size())}, dtype));
  return p;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("nn::clip_grad_norm by hand") {
    // Gradients [3, 4] and [12]: N = √(9 + 16 + 144) = 13.
    Tensor a = with_grad({3, 4}), b = with_grad({12});
    Tensor no_grad = zeros({3}, DType::f64);
    no_grad.set_requires_grad(true);
    std::vector<Tensor> params = {a, no_grad, b};
    CHECK(grad_norm(params) == 13.0);

    SUBCASE("above the limit: scaled") {
      CHECK(clip_grad_norm(params, 6.5) == 13.0);
      const double c = 6.5 / (13.0 + 1e-6);
      CHECK(a.grad().to_vector() == std::vector<double>{3 * c, 4 * c});
      CHECK(b.grad().to_vector() == std::vector<double>{12 * c});
      CHECK(grad_norm(params) == doctest::Approx(13 * c).epsilon(1e-12));
    }
    SUBCASE("below the limit: unchanged") {
      CHECK(clip_grad_norm(params, 20.0) == 13.0);
      CHECK(a.grad().to_vector() == std::vector<double>{3, 4});
    }
    SUBCASE("non-finite norm: unchanged, returned for the caller to skip the step") {
      Tensor bad = with_grad({std::numeric_limits<double>::infinity()});
      std::vector<Tensor> with_bad = {a, bad};
      CHECK(std::isinf(clip_grad_norm(with_bad, 1.0)));
      CHECK(a.grad().to_vector() == std::vector<double>{3, 4});
      Tensor nan = with_grad({std::nan("")});
      CHECK(std::isnan(clip_grad_norm({a, nan}, 1.0)));
    }
    CHECK_THROWS_WITH_AS(clip_grad_norm(params, 0.0), doctest::Contains("max_norm must be > 0"), Error);
  }

  TEST_CASE("nn::clip_grad_norm f32 - strided gradients - thread-count independence") {
    Tensor p = zeros({300, 700});
    p.set_requires_grad(true);
    p.set_grad(randn({700, 300}).transpose(0, 1));  // a non-contiguous gradient
    std::vector<double> g = p.grad().to_vector();
    double want = 0;
    for (double x : g) want += x * x;
    want = std::sqrt(want);
    const double one = hqlt::testing::with_threads(1, [&] { return grad_norm({p}); });
    const double many = grad_norm({p});
    CHECK(one == many);
    CHECK(one == doctest::Approx(want).epsilon(1e-12));
    const double n = clip_grad_norm({p}, 1.0);
    std::vector<double> clipped = p.grad().to_vector();
    const float c = float(1.0 / (n + 1e-6));
    for (size_t i = 0; i < g.size(); i += 997) CHECK(clipped[i] == double(float(g[i]) * c));
  }
}
