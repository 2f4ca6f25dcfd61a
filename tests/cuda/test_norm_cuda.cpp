// rms_norm and l2_normalize on the GPU (ops/norm/norm.cu) against the CPU: output and every
// input gradient through the tape, f32 (≤ 1e-4 relative) and f64, over the edge shapes of
// the CPU tests (D = 1, rows shorter and longer than a block, a zero row, a strided input,
// no rows) and the models' sizes; outputs come from allocator blocks poisoned with NaN.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/norm/norm.h"

using namespace hqlt;
using hqlt::testing::reduction_tol;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda rms_norm matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(71);
    const Shape shapes[] = {{3, 1}, {5, 7}, {2, 3, 128}, {4, 300}, {130, 9}, {2, 64, 1024}, {0, 5}};
    for (DType dt : {DType::f32, DType::f64}) {
      for (const Shape& s : shapes) {
        CAPTURE(shape_str(s));
        CAPTURE(dtype_name(dt));
        Tensor x = randn(s, dt), w = rand({s.back()}, dt, Device::cpu, 0.5, 1.5);
        run_on_both([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-6); }, {x, w}, reduction_tol(dt));
        run_on_both([](const std::vector<Tensor>& in) { return rms_norm(in[0], Tensor(), 1e-6); }, {x}, reduction_tol(dt));
      }
      // A strided input (a transposed view) and a zero row.
      Tensor x = randn({6, 17}, dt), w = rand({6}, dt, Device::cpu, 0.5, 1.5);
      run_on_both([](const std::vector<Tensor>& in) { return rms_norm(in[0].transpose(0, 1), in[1], 1e-6); }, {x, w},
                  reduction_tol(dt));
      Tensor z = randn({3, 40}, dt);
      fill(z.slice(0, 1, 2), 0.0);
      run_on_both([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-6); },
                  {z, rand({40}, dt, Device::cpu, 0.5, 1.5)}, reduction_tol(dt));
    }
#endif
  }

  TEST_CASE("cuda l2_normalize matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(72);
    const Shape shapes[] = {{3, 1}, {6, 33}, {2, 7, 3, 64}, {2, 257}, {0, 4}};
    for (DType dt : {DType::f32, DType::f64}) {
      for (const Shape& s : shapes) {
        CAPTURE(shape_str(s));
        CAPTURE(dtype_name(dt));
        run_on_both([](const std::vector<Tensor>& in) { return l2_normalize(in[0]); }, {randn(s, dt)}, reduction_tol(dt));
      }
      Tensor x = randn({9, 16}, dt);
      run_on_both([](const std::vector<Tensor>& in) { return l2_normalize(in[0].transpose(0, 1)); }, {x}, reduction_tol(dt));
      fill(x.slice(0, 2, 3), 0.0);  // a zero row maps to zero
      run_on_both([](const std::vector<Tensor>& in) { return l2_normalize(in[0]); }, {x}, reduction_tol(dt));
    }
#endif
  }
}
