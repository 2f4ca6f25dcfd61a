// concat, split, chunk and pad on the GPU (they move data with the engine's copy and fill
// kernels) against the CPU ops, forward and backward, f32 and f64: every dim, strided
// inputs, an empty input, a piece without a gradient, padding on one side only.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/shape/concat.h"
#include "ops/shape/pad.h"

using namespace hqlt;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda concat matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(101);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      run_on_both([](const std::vector<Tensor>& in) { return concat(in, 1); },
                  {randn({2, 3, 4}, dt), randn({2, 1, 4}, dt), randn({2, 5, 4}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return concat({in[0].transpose(0, 1), in[1]}, 0); },
                  {randn({3, 2}, dt), randn({4, 3}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return concat(in, -1); },
                  {randn({3, 2}, dt), randn({3, 0}, dt), randn({3, 1}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return concat(in, 0); }, {randn({4}, dt)}, 0.0);
    }
#endif
  }

  TEST_CASE("cuda split and chunk match the CPU with unused pieces") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(102);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      // The middle piece gets no gradient: its slice of dx must be zero on the GPU too.
      run_on_both(
          [](const std::vector<Tensor>& in) {
            auto p = split(in[0], {2, 1, 3}, 1);
            return concat({p[0], p[2]}, 1);
          },
          {randn({2, 6, 3}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return chunk(in[0].transpose(0, 1), 3, -1)[2]; },
                  {randn({7, 2}, dt)}, 0.0);
    }
#endif
  }

  TEST_CASE("cuda pad matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(103);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      run_on_both([](const std::vector<Tensor>& in) { return pad(in[0], 1, 2, 3, -1.5); }, {randn({2, 4, 3}, dt)},
                  0.0);
      run_on_both([](const std::vector<Tensor>& in) { return pad(in[0], 0, 1, 0); }, {randn({2, 3}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return pad(in[0], -1, 0, 2); }, {randn({2, 3}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return pad(in[0].transpose(0, 1), 0, 1, 1, 7.0); },
                  {randn({3, 4}, dt)}, 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return pad(in[0], 1, 0, 0); }, {randn({2, 3}, dt)}, 0.0);
    }
#endif
  }
}
