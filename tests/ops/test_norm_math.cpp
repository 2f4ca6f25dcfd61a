// The GPU's row algorithm of rms_norm and l2_normalize (ops/norm/norm_math.h: one thread
// block per row, a fixed-order tree over row_blocks::kThreads partials; dweight by groups
// of rows) run here thread by thread (HostPhases), against the CPU op (itself checked
// against a naive loop and finite differences in test_norm.cpp): y, r, dx and dweight, for
// rows shorter than, equal to and longer than a block, with and without weight. Outputs
// and shared memory start as NaN, so an element the algorithm leaves unwritten shows up.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/norm/norm.h"
#include "ops/norm/norm_math.h"

using namespace hqlt;
using namespace hqlt::detail;
using hqlt::testing::expect_close;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Case {
  int64_t rows, d;
  bool weight, mean;  // mean: rms_norm (c = d), else l2_normalize (c = 1)
};

void check_case(const Case& c) {
  CAPTURE(c.rows);
  CAPTURE(c.d);
  CAPTURE(c.weight);
  CAPTURE(c.mean);
  const double eps = 1e-6;
  Tensor x = randn({c.rows, c.d}, DType::f64).set_requires_grad(true);
  Tensor w = c.weight ? rand({c.d}, DType::f64, Device::cpu, 0.5, 1.5).set_requires_grad(true) : Tensor();
  Tensor y = c.mean ? rms_norm(x, w, eps) : l2_normalize(x, eps);
  Tensor dy = randn({c.rows, c.d}, DType::f64);
  y.backward(dy);

  std::vector<double> hy(size_t(c.rows * c.d), kNaN), hr(size_t(c.rows), kNaN), hdx(hy.size(), kNaN);
  std::vector<double> shared(size_t(row_blocks::kThreads), kNaN);
  std::vector<double> wv = c.weight ? w.to_vector() : std::vector<double>();
  std::vector<double> xv = x.to_vector(), dyv = dy.to_vector();
  norm_math::Args<double> a;
  a.rows = c.rows, a.d = c.d, a.inv_c = c.mean ? 1.0 / double(c.d) : 1.0, a.eps = eps;
  a.x = xv.data(), a.w = c.weight ? wv.data() : nullptr, a.y = hy.data(), a.rstd = hr.data();
  a.dy = dyv.data(), a.dx = hdx.data();
  for (int64_t i = 0; i < c.rows; ++i) norm_math::forward_row(row_blocks::HostPhases{}, shared.data(), i, a);
  for (int64_t i = 0; i < c.rows; ++i) norm_math::backward_row(row_blocks::HostPhases{}, shared.data(), i, a);
  {
    INFO("y");
    expect_close(hy, y.to_vector(), 1e-12);
  }
  {
    INFO("dx");
    expect_close(hdx, x.grad().to_vector(), 1e-12);
  }
  for (int64_t i = 0; i < c.rows; ++i) {  // r against its definition
    double ss = 0;
    for (int64_t k = 0; k < c.d; ++k) ss += xv[size_t(i * c.d + k)] * xv[size_t(i * c.d + k)];
    CHECK(hr[size_t(i)] == doctest::Approx(1 / std::sqrt(ss * a.inv_c + eps)).epsilon(1e-12));
  }
  if (c.weight) {
    const int64_t groups = (c.rows + norm_math::kGroupRows - 1) / norm_math::kGroupRows;
    std::vector<double> partial(size_t(groups * c.d), kNaN), dw(size_t(c.d), kNaN);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t k = 0; k < c.d; ++k) norm_math::weight_partial(partial.data(), g, k, a);
    for (int64_t k = 0; k < c.d; ++k) norm_math::weight_finish(dw.data(), partial.data(), groups, k, c.d);
    INFO("dweight");
    expect_close(dw, w.grad().to_vector(), 1e-12);
  }
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("norm row algorithm of the GPU matches the CPU op") {
    manual_seed(61);
    const Case cases[] = {
        {3, 1, true, true},    {5, 7, true, true},     {4, 128, false, true}, {2, 300, true, true},
        {130, 9, true, true},  {3, 1, false, false},   {6, 33, false, false}, {2, 257, false, false},
    };
    for (const Case& c : cases) check_case(c);
  }
}
