// rope on the GPU (ops/rope/rope.cu) against the CPU op, forward and backward, f32 and
// f64: several heads, d = 2, T = 1, a position offset, another base, strided input.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/rope/rope.h"

using namespace hqlt;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda rope matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(71);
    struct Case {
      Shape shape;
      double base;
      int64_t offset;
      bool strided;
    };
    const Case cases[] = {{{2, 5, 3, 8}, 10000, 0, false}, {{1, 4, 1, 2}, 100, 2, false},
                          {{3, 1, 2, 6}, 10000, 3, false}, {{2, 3, 3, 4}, 10000, 1, true},
                          {{2, 64, 4, 128}, 10000, 1000, false}};
    for (const Case& c : cases) {
      for (DType dt : {DType::f32, DType::f64}) {
        INFO(dtype_name(dt) << " " << shape_str(c.shape) << " base=" << c.base << " offset=" << c.offset
                            << " strided=" << c.strided);
        // Strided: the input is [B, H, T, d] seen as [B, T, H, d].
        run_on_both(
            [&](const std::vector<Tensor>& in) {
              return rope(c.strided ? in[0].transpose(1, 2) : in[0], c.base, c.offset);
            },
            {randn(c.strided ? Shape{c.shape[0], c.shape[2], c.shape[1], c.shape[3]} : c.shape, dt)},
            dt == DType::f32 ? 1e-4 : 1e-10);
      }
    }
#endif
  }
}
