// The ceiling for the fused kernels' figures (label cuda_bench; bench/gpu_check.sh runs it):
// what cuBLAS reaches on this card, through the engine's own matmul(), for one large square
// GEMM and for the batched head-sized GEMMs a layer makes (B·H = 128 matrices of T × d by
// d × T). f32 with TF32 off is the precision our f32 kernels compute in; TF32 shows what
// tensor cores give f32 inputs. TFLOP/s = 2·m·n·k·batch / time.
//
// Without HQLT_BENCH=full it runs one small shape once (quick under `ctest -L cuda`).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/matmul/matmul.h"

#ifdef HQLT_HAS_CUDA
#include "cuda_timing.h"
#include "engine/cuda/blas.h"
#endif

using namespace hqlt;

namespace {

#ifdef HQLT_HAS_CUDA
void bench_gemm(int64_t batch, int64_t m, int64_t k, int64_t n, bool tf32, int reps) {
  manual_seed(72);
  Tensor a = randn({batch, m, k}).to(Device::cuda), b = randn({batch, k, n}).to(Device::cuda);
  cuda::set_allow_tf32(tf32);
  const double ms = testing::median_cuda_ms([&] {
    NoGrad no_grad;
    Tensor c = matmul(a, b);
  }, reps);
  cuda::set_allow_tf32(false);
  const double flop = 2.0 * double(batch) * double(m) * double(n) * double(k);
  std::printf("cublas gemm %-4s batch=%-4lld m=%-6lld k=%-6lld n=%-6lld  %9.3f ms %7.2f TFLOP/s\n",
              tf32 ? "tf32" : "f32", (long long)batch, (long long)m, (long long)k, (long long)n, ms,
              flop / ms / 1e9);
  std::fflush(stdout);
}
#endif

}  // namespace

TEST_SUITE("cuda_bench") {
  TEST_CASE("cuda cublas gemm ceiling") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    if (!testing::full_bench()) {
      bench_gemm(1, 512, 512, 512, false, 1);
      return;
    }
    for (bool tf32 : {false, true}) {
      bench_gemm(1, 8192, 8192, 8192, tf32, 5);
      // One attention layer's score GEMM at T = 4096 (Q·Kᵀ per head), d = 64 and 128.
      bench_gemm(128, 4096, 64, 4096, tf32, 5);
      bench_gemm(128, 4096, 128, 4096, tf32, 5);
    }
#endif
  }
}
