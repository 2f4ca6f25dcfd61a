// cross_entropy on the GPU (ops/loss/cross_entropy.cu) against the CPU: the loss and the
// gradients of logits and mask through the tape, f32 (≤ 1e-4 relative) and f64, with
// ignored targets, zero weights, masked (−inf) classes, V = 1, rows longer than a block,
// strided logits, targets on either device, nothing counting, and a vocabulary-sized
// case; outputs come from allocator blocks poisoned with NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/loss/cross_entropy.h"

using namespace hqlt;
using hqlt::testing::expect_close;
using hqlt::testing::reduction_tol;
using hqlt::testing::run_on_both;

namespace {

// Targets for n rows of v classes: (7i + 3) mod v, with every fifth row ignored.
Tensor targets_for(int64_t n, int64_t v, DType dt = DType::i64) {
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = i % 5 == 1 ? -100.0 : double((7 * i + 3) % v);
  return from_vector(y, {n}, dt);
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda cross_entropy matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(73);
    const std::pair<int64_t, int64_t> shapes[] = {{6, 1}, {7, 5}, {4, 128}, {3, 300}, {200, 11}, {64, 32000}};
    for (DType dt : {DType::f32, DType::f64}) {
      for (auto [n, v] : shapes) {
        CAPTURE(n);
        CAPTURE(v);
        CAPTURE(dtype_name(dt));
        Tensor z = randn({n, v}, dt, Device::cpu, 0.0, 3.0);
        if (v > 2) fill(z.slice(0, 0, 1).slice(1, 1, 2), -INFINITY);  // a masked class
        Tensor m = rand({n}, dt, Device::cpu, 0.0, 2.0);
        if (n > 3) fill(m.slice(0, 3, 4), 0.0);  // a counted row of weight 0
        const Tensor y = targets_for(n, v), y_cuda = y.to(Device::cuda), y32 = targets_for(n, v, DType::i32);
        // Targets on the host, on the card, and as i32; with and without a mask.
        run_on_both([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y); }, {z}, reduction_tol(dt));
        run_on_both(
            [&](const std::vector<Tensor>& in) {
              return cross_entropy(in[0], in[0].device() == Device::cuda ? y_cuda : y);
            },
            {z}, reduction_tol(dt));
        run_on_both([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y32, in[1]); }, {z, m}, reduction_tol(dt));
      }
      // Strided logits [..., V] with leading dims, i32 targets.
      Tensor z = randn({9, 2, 3}, dt);
      const Tensor y = targets_for(6, 9, DType::i32).reshape({2, 3});
      run_on_both([&](const std::vector<Tensor>& in) { return cross_entropy(in[0].permute({1, 2, 0}), y); }, {z},
                  reduction_tol(dt));
      // Nothing counts: loss 0, gradients 0.
      const Tensor none = full({4}, -100.0, DType::i64);
      run_on_both([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], none); }, {randn({4, 6}, dt)},
                  reduction_tol(dt));
    }
#endif
  }

  TEST_CASE("cuda cross_entropy rejects an out-of-range target on the card") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor z = randn({3, 4}, DType::f32, Device::cuda);
    Tensor y = from_vector({0, 4, 1}, {3}, DType::i64, Device::cuda);
    CHECK_THROWS_WITH_AS(cross_entropy(z, y), doctest::Contains("out of range"), hqlt::Error);
#endif
  }
}
