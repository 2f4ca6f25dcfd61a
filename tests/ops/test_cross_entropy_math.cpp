// The GPU's algorithm of cross_entropy (ops/loss/cross_entropy_math.h: one thread block per
// row with fixed-order trees for the maximum and the sum, one block adding the rows, one
// thread per logit in backward) run here thread by thread (HostPhases), against the CPU op
// (itself checked against a composition of primitive ops and finite differences in
// test_loss.cpp): the loss, dlogits and dmask, with ignored rows, zero weights, masked
// (−inf) classes, V = 1 and rows longer than a block. Outputs and shared memory start as
// NaN, so an element the algorithm leaves unwritten shows up.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/loss/cross_entropy.h"
#include "ops/loss/cross_entropy_math.h"

using namespace hqlt;
using namespace hqlt::detail;
using hqlt::testing::expect_close;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Case {
  int64_t n, v;
  bool mask;
};

void check_case(const Case& c) {
  CAPTURE(c.n);
  CAPTURE(c.v);
  CAPTURE(c.mask);
  const int64_t ignore = -100;
  std::vector<double> zv = randn({c.n, c.v}, DType::f64).to_vector();
  if (c.v > 2) zv[1] = -INFINITY;  // a masked class in row 0
  std::vector<double> yv(size_t(c.n)), wv(size_t(c.n), 1.0);
  std::vector<double> mv = rand({c.n}, DType::f64, Device::cpu, 0.0, 2.0).to_vector();
  for (int64_t i = 0; i < c.n; ++i) yv[size_t(i)] = double((i * 7 + 3) % c.v);
  if (c.n > 2) yv[1] = double(ignore);
  if (c.n > 3 && c.mask) mv[3] = 0;  // a counted row of weight 0
  Tensor z = from_vector(zv, {c.n, c.v}, DType::f64).set_requires_grad(true);
  Tensor y = from_vector(yv, {c.n}, DType::i64);
  Tensor m = c.mask ? from_vector(mv, {c.n}, DType::f64).set_requires_grad(true) : Tensor();
  Tensor loss = cross_entropy(z, y, m, ignore);
  const double g = 0.75;
  loss.backward(full({}, g, DType::f64));

  std::vector<int64_t> yi(size_t(c.n));
  double total_weight = 0;
  for (int64_t i = 0; i < c.n; ++i) {
    yi[size_t(i)] = int64_t(yv[size_t(i)]);
    wv[size_t(i)] = yi[size_t(i)] == ignore ? 0.0 : (c.mask ? mv[size_t(i)] : 1.0);
    total_weight += wv[size_t(i)];
  }
  std::vector<double> lse(size_t(c.n), kNaN), wnll(size_t(c.n), kNaN), dz(zv.size(), kNaN), dm(size_t(c.n), kNaN);
  std::vector<double> s_max(size_t(row_blocks::kThreads), kNaN), s_sum(s_max), s_total(s_max);
  ce_math::Args<double> a;
  a.n = c.n, a.v = c.v, a.ignore_index = ignore;
  a.z = zv.data(), a.y = yi.data(), a.w = wv.data(), a.lse = lse.data(), a.weighted_nll = wnll.data();
  a.g = &g, a.total_weight = total_weight, a.dz = dz.data(), a.dmask = dm.data();
  for (int64_t i = 0; i < c.n; ++i) ce_math::forward_row(row_blocks::HostPhases{}, s_max.data(), s_sum.data(), i, a);
  double total = kNaN;
  ce_math::sum_rows(row_blocks::HostPhases{}, s_total.data(), c.n, wnll.data(), &total);
  a.loss = total / total_weight;
  CHECK(a.loss == doctest::Approx(loss.item()).epsilon(1e-12));
  for (int64_t e = 0; e < c.n * c.v; ++e) ce_math::dlogit_at(e, a);
  for (int64_t i = 0; i < c.n; ++i) ce_math::dmask_at(i, a);
  {
    INFO("dlogits");
    expect_close(dz, z.grad().to_vector(), 1e-12);
  }
  if (c.mask) {
    INFO("dmask");
    expect_close(dm, m.grad().to_vector(), 1e-12);
  }
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("cross_entropy algorithm of the GPU matches the CPU op") {
    manual_seed(62);
    const Case cases[] = {{5, 1, false}, {6, 7, true}, {4, 128, false}, {3, 300, true}, {200, 11, true}};
    for (const Case& c : cases) check_case(c);
  }
}
