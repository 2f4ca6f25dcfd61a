// The GPU's row algorithm of softmax and log_softmax (ops/softmax/softmax_math.h: one
// thread block per row, fixed-order trees for the maximum and the sum) run here thread by
// thread (HostPhases), against the CPU op (itself checked against a naive loop and finite
// differences in test_softmax.cpp): y and dx along the last dim and a middle dim, rows
// shorter and longer than a block, with −inf entries and a row that is −inf everywhere.
// Outputs and shared memory start as NaN, so an element left unwritten shows up.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/softmax/softmax.h"
#include "ops/softmax/softmax_math.h"

using namespace hqlt;
using namespace hqlt::detail;
using hqlt::testing::expect_close;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_case(const Shape& shape, int64_t dim, bool log) {
  CAPTURE(shape_str(shape));
  CAPTURE(dim);
  CAPTURE(log);
  std::vector<double> xv = randn(shape, DType::f64).to_vector();
  softmax_math::Rows rows;
  rows.n = shape[size_t(dim)];
  int64_t outer = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < shape.size(); ++i) rows.inner *= shape[i];
  rows.count = outer * rows.inner;
  // Row 0 gets a −inf entry; row 1 (if any) is −inf everywhere.
  if (rows.n > 1) xv[size_t(rows.start(0) + rows.inner)] = -INFINITY;
  if (rows.count > 1)
    for (int64_t k = 0; k < rows.n; ++k) xv[size_t(rows.start(1) + k * rows.inner)] = -INFINITY;

  Tensor x = from_vector(xv, shape, DType::f64).set_requires_grad(true);
  Tensor y = log ? log_softmax(x, dim) : softmax(x, dim);
  Tensor dy = randn(shape, DType::f64);
  y.backward(dy);

  std::vector<double> hy(xv.size(), kNaN), hdx(xv.size(), kNaN), dyv = dy.to_vector();
  std::vector<double> s_max(size_t(row_blocks::kThreads), kNaN), s_sum(s_max);
  softmax_math::Args<double> a;
  a.rows = rows, a.log = log, a.x = xv.data(), a.y = hy.data(), a.dy = dyv.data(), a.dx = hdx.data();
  for (int64_t r = 0; r < rows.count; ++r)
    softmax_math::forward_row(row_blocks::HostPhases{}, s_max.data(), s_sum.data(), r, a);
  for (int64_t r = 0; r < rows.count; ++r) softmax_math::backward_row(row_blocks::HostPhases{}, s_sum.data(), r, a);
  {
    INFO("y");
    expect_close(hy, y.to_vector(), 1e-12);
  }
  INFO("dx");
  expect_close(hdx, x.grad().to_vector(), 1e-12);
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("softmax row algorithm of the GPU matches the CPU op") {
    manual_seed(63);
    for (bool log : {false, true}) {
      check_case({4, 1}, 1, log);
      check_case({3, 7}, 1, log);
      check_case({2, 300}, 1, log);
      check_case({3, 130, 5}, 1, log);
      check_case({5, 4, 3}, 0, log);
    }
  }
}
