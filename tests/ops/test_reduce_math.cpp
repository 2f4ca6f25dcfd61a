// The GPU's algorithm of sum, mean and max (ops/reduce/reduce_math.h: one thread block per
// output, a fixed-order tree over its row of the [outputs, reduced] matrix) run here
// thread by thread (HostPhases), against the CPU ops (checked against naive loops and
// finite differences in test_reduce.cpp): values, the position of the maximum (the first
// one, or the first NaN, as on the CPU) and max's backward scatter, for rows shorter and
// longer than a block, ties and NaN. Outputs and shared memory start as NaN / −1.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/reduce/reduce.h"
#include "ops/reduce/reduce_math.h"

using namespace hqlt;
using namespace hqlt::detail;
using hqlt::testing::expect_close;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// x [n_out, count] with small integers (so ties happen), row 0 holding a NaN at `nan_at`
// (if >= 0): sum, mean, max and max's gradient by the GPU's algorithm vs the CPU ops.
void check_case(int64_t n_out, int64_t count, int64_t nan_at) {
  CAPTURE(n_out);
  CAPTURE(count);
  CAPTURE(nan_at);
  std::vector<double> xv = rand({n_out, count}, DType::f64, Device::cpu, -4.0, 4.0).to_vector();
  for (double& v : xv) v = std::floor(v);
  if (nan_at >= 0) xv[size_t(nan_at)] = kNaN, xv[size_t(nan_at + 1)] = kNaN;
  Tensor x = from_vector(xv, {n_out, count}, DType::f64).set_requires_grad(true);

  std::vector<double> hsum(size_t(n_out), kNaN), hmean(hsum), hmax(hsum);
  std::vector<int64_t> where(size_t(n_out), -1);
  std::vector<double> s(size_t(row_blocks::kThreads), kNaN);
  std::vector<reduce_math::ArgMax<double>> sa(size_t(row_blocks::kThreads), {kNaN, -1});
  reduce_math::Args<double> a;
  a.n_out = n_out, a.count = count, a.x = xv.data();
  for (int64_t o = 0; o < n_out; ++o) {
    a.out = hsum.data(), a.scaled = false;
    reduce_math::sum_row(row_blocks::HostPhases{}, s.data(), o, a);
    a.out = hmean.data(), a.scaled = true, a.scale = 1.0 / double(count);
    reduce_math::sum_row(row_blocks::HostPhases{}, s.data(), o, a);
    a.out = hmax.data(), a.where = where.data();
    reduce_math::max_row(row_blocks::HostPhases{}, sa.data(), o, a);
  }
  if (nan_at < 0) {  // sums with a NaN are NaN on both sides, which expect_close counts as a miss
    expect_close(hsum, sum(x, {1}).to_vector(), 1e-12);
    expect_close(hmean, mean(x, {1}).to_vector(), 1e-12);
  }
  Tensor m = max(x, {1});
  std::vector<double> want = m.to_vector();
  for (int64_t o = 0; o < n_out; ++o) {
    CAPTURE(o);
    CHECK(where[size_t(o)] >= 0);
    CHECK(((std::isnan(hmax[size_t(o)]) && std::isnan(want[size_t(o)])) || hmax[size_t(o)] == want[size_t(o)]));
  }
  // The position: max's CPU gradient puts g at the first maximum, so must the scatter.
  Tensor g = randn({n_out}, DType::f64);
  m.backward(g);
  std::vector<double> gv = g.to_vector(), dx(xv.size(), 0.0);
  for (int64_t o = 0; o < n_out; ++o) reduce_math::max_backward_at(o, dx.data(), gv.data(), where.data(), count);
  expect_close(dx, x.grad().to_vector(), 0.0);
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("reduce algorithm of the GPU matches the CPU ops") {
    manual_seed(64);
    check_case(3, 1, -1);
    check_case(4, 7, -1);
    check_case(2, 128, -1);
    check_case(3, 1000, -1);
    check_case(200, 5, -1);
    check_case(2, 300, 170);  // two NaNs: the first one wins
    check_case(2, 300, 3);
  }
}
