// Timing of attention() on the GPU (label cuda_bench; bench/gpu_check.sh runs it with
// `hqlt_tests -ts=cuda_bench`): forward, and forward + backward, causal, f32,
// B = 8, H = 16, d = 64 and 128, T = 1k / 4k / 16k, timed with cuda events. TFLOP/s counts
// docs/math/kernels.md §3.4's useful FLOPs: forward 2·pairs·(d_k + d_v), backward
// pairs·(6·d_k + 4·d_v), pairs = T(T+1)/2 per (b, h) — not the recomputation (the dQ pass)
// nor the masked halves of diagonal tiles. Forward + backward includes the engine's
// gradient bookkeeping (the leaf-gradient copies).
//
// Without HQLT_BENCH=full in the environment it runs one small shape once, so that
// `ctest -L cuda` on a GPU machine stays quick and still exercises this file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"

#ifdef HQLT_HAS_CUDA
#include "cuda_timing.h"
#endif

using namespace hqlt;

namespace {

#ifdef HQLT_HAS_CUDA
void bench_shape(int64_t batch, int64_t heads, int64_t d, int64_t t, int reps) {
  manual_seed(71);
  Tensor q = randn({batch, t, heads, d}).to(Device::cuda), k = randn({batch, t, heads, d}).to(Device::cuda);
  Tensor v = randn({batch, t, heads, d}).to(Device::cuda), dy = randn({batch, t, heads, d}).to(Device::cuda);
  const double scale = 1.0 / std::sqrt(double(d));
  const double pairs = double(batch * heads) * double(t) * double(t + 1) / 2;
  const double fwd_flop = 2 * pairs * double(2 * d), bwd_flop = pairs * double(10 * d);

  const double fwd_ms = testing::median_cuda_ms([&] {
    NoGrad no_grad;
    Tensor y = attention(q, k, v, true, -1, scale);
  }, reps);
  const double both_ms = testing::median_cuda_ms([&] {
    Tensor ql = q.detach().set_requires_grad(true), kl = k.detach().set_requires_grad(true);
    Tensor vl = v.detach().set_requires_grad(true);
    attention(ql, kl, vl, true, -1, scale).backward(dy);
  }, reps);
  testing::print_fwd_bwd("attention cuda f32 causal", batch, heads, d, t, fwd_flop, bwd_flop, fwd_ms, both_ms);
}
#endif

}  // namespace

TEST_SUITE("cuda_bench") {
  TEST_CASE("cuda attention forward and backward timing") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    testing::for_bench_shapes(bench_shape);
#endif
  }
}
