// softmax and log_softmax on the GPU (ops/softmax/softmax.cu) against the CPU: output and
// input gradient through the tape, f32 (≤ 1e-4 relative) and f64, along the last dim and
// other dims, rows shorter and longer than a block, n = 1, strided inputs, −inf entries and
// a row that is −inf everywhere; outputs come from allocator blocks poisoned with NaN.
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/softmax/softmax.h"

using namespace hqlt;
using hqlt::testing::reduction_tol;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda softmax and log_softmax match the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(74);
    const std::pair<Shape, int64_t> cases[] = {{{4, 1}, -1},      {{3, 7}, 1},        {{2, 300}, -1},
                                               {{3, 130, 5}, 1},  {{5, 4, 3}, 0},     {{2, 4, 64, 2048}, -1},
                                               {{0, 6}, 1}};
    for (DType dt : {DType::f32, DType::f64}) {
      for (bool log : {false, true}) {
        const auto f = [log](int64_t dim) {
          return [log, dim](const std::vector<Tensor>& in) {
            return log ? log_softmax(in[0], dim) : softmax(in[0], dim);
          };
        };
        for (const auto& [shape, dim] : cases) {
          CAPTURE(shape_str(shape));
          CAPTURE(dim);
          CAPTURE(log);
          CAPTURE(dtype_name(dt));
          run_on_both(f(dim), {randn(shape, dt, Device::cpu, 0.0, 3.0)}, reduction_tol(dt));
        }
        // −inf entries and a row that is −inf everywhere (a fully masked attention row).
        Tensor x = randn({4, 9}, dt);
        fill(x.slice(0, 0, 1).slice(1, 2, 5), -INFINITY);
        fill(x.slice(0, 2, 3), -INFINITY);
        run_on_both(f(-1), {x}, reduction_tol(dt));
        // A strided input (a transposed view).
        run_on_both(
            [log](const std::vector<Tensor>& in) {
              return log ? log_softmax(in[0].transpose(0, 1), 1) : softmax(in[0].transpose(0, 1), 1);
            },
            {randn({33, 6}, dt)}, reduction_tol(dt));
      }
    }
#endif
  }
}
