// causal_conv1d on the GPU (ops/conv/causal_conv1d.cu) against the CPU op: y, dx and dw,
// f32 and f64, over the CPU tests' edge shapes (T = 1, K = 1, K > T, one channel, both
// weight layouts, strided x) and a size with several dw row blocks, one of them partial.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/conv/causal_conv1d.h"

using namespace hqlt;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda causal_conv1d matches the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(81);
    struct Case {
      int64_t B, T, Ch, K;
      bool three_dim_weight, strided;
    };
    const Case cases[] = {{2, 5, 3, 4, true, false}, {2, 5, 3, 4, false, false}, {2, 1, 3, 4, true, false},
                          {2, 4, 3, 1, true, false}, {1, 3, 2, 6, false, false}, {3, 5, 1, 3, true, false},
                          {2, 6, 4, 3, true, true},  {3, 300, 70, 4, true, false}};
    for (const Case& c : cases) {
      for (DType dt : {DType::f32, DType::f64}) {
        INFO(dtype_name(dt) << " B=" << c.B << " T=" << c.T << " Ch=" << c.Ch << " K=" << c.K
                            << " w3=" << c.three_dim_weight << " strided=" << c.strided);
        // Strided: x is [B, Ch, T] seen as [B, T, Ch].
        Tensor x = randn(c.strided ? Shape{c.B, c.Ch, c.T} : Shape{c.B, c.T, c.Ch}, dt);
        Tensor w = randn(c.three_dim_weight ? Shape{c.Ch, 1, c.K} : Shape{c.Ch, c.K}, dt);
        run_on_both(
            [&](const std::vector<Tensor>& in) {
              return causal_conv1d(c.strided ? in[0].transpose(1, 2) : in[0], in[1]);
            },
            {x, w}, dt == DType::f32 ? 1e-4 : 1e-10);
      }
    }
#endif
  }
}
