// sum, mean and max on the GPU (ops/reduce/reduce.cu) against the CPU: output and input
// gradient through the tape, f32 (≤ 1e-4 relative) and f64, over all dims, one dim, several
// dims, keepdim, size-1 and long reduced dims, strided inputs, ties for max (small
// integers), empty outputs; outputs come from allocator blocks poisoned with NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/reduce/reduce.h"

using namespace hqlt;
using hqlt::testing::reduction_tol;
using hqlt::testing::run_on_both;

namespace {

struct Case {
  Shape shape;
  std::vector<int64_t> dims;
  bool keepdim;
};

using Reduce = Tensor (*)(const Tensor&, const std::vector<int64_t>&, bool);

// Small integers in [-4, 3], so that max sees ties (the first one gets the gradient).
Tensor small_integers(const Shape& shape, DType dt) {
  std::vector<double> v = rand(shape, DType::f64, Device::cpu, -4.0, 4.0).to_vector();
  for (double& e : v) e = std::floor(e);
  return from_vector(v, shape, dt);
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda sum mean and max match the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(75);
    const Case cases[] = {
        {{5}, {}, false},          {{3, 4, 5}, {}, false},      {{3, 4, 5}, {1}, false},  {{3, 4, 5}, {0, 2}, true},
        {{3, 4, 5}, {-1}, true},   {{2, 1, 7}, {1}, false},     {{4, 3000}, {1}, false},  {{100000}, {0}, false},
        {{300, 6}, {0}, false},    {{0, 4}, {1}, false},        {{}, {}, false},
    };
    const std::pair<const char*, Reduce> ops[] = {{"sum", sum}, {"mean", mean}, {"max", max}};
    for (DType dt : {DType::f32, DType::f64}) {
      for (const auto& [name, op] : ops) {
        for (const Case& c : cases) {
          CAPTURE(name);
          CAPTURE(shape_str(c.shape));
          CAPTURE(c.keepdim);
          CAPTURE(dtype_name(dt));
          const Tensor x = small_integers(c.shape, dt);
          if (std::string(name) == "max" && x.numel() == 0) continue;  // max refuses an empty reduction
          const auto f = [&](const std::vector<Tensor>& in) { return op(in[0], c.dims, c.keepdim); };
          run_on_both(f, {x}, reduction_tol(dt));
        }
        // A strided input (a transposed view).
        run_on_both([&](const std::vector<Tensor>& in) { return op(in[0].transpose(0, 1), {1}, false); },
                    {randn({7, 130}, dt)}, reduction_tol(dt));
      }
    }
#endif
  }
}
