// Timing of delta_rule() on the GPU (label cuda_bench; bench/gpu_check.sh runs it with
// `hqlt_tests -ts=cuda_bench`): forward, and forward + backward, f32, ℓ2 inside the op,
// B = 8, H = 16, d_k = d_v = 64 and 128, T = 1k / 4k / 16k, chunk 64, timed with cuda events.
// TFLOP/s counts docs/math/kernels.md §8's dense-tile FLOPs of the chunked algorithm,
// forward T·(6C d_k + 4C d_v + C²/3 + 6 d_k d_v), backward T·(18C d_k + 10C d_v + 4.3C² +
// 16 d_k d_v) per (b, h) — not the kernel's own recomputation of the chunk's [C, C] tiles
// in every slice of d_v. "% peak" is of the card's f32 peak (cuda_timing.h).
//
// Without HQLT_BENCH=full it runs one small shape once (quick under `ctest -L cuda`).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/delta_rule/delta_rule.h"

#ifdef HQLT_HAS_CUDA
#include "cuda_timing.h"
#endif

using namespace hqlt;

namespace {

#ifdef HQLT_HAS_CUDA
void bench_shape(int64_t batch, int64_t heads, int64_t d, int64_t t, int reps) {
  manual_seed(73);
  const int64_t C = 64;
  Tensor q = randn({batch, t, heads, d}).to(Device::cuda), k = randn({batch, t, heads, d}).to(Device::cuda);
  Tensor v = randn({batch, t, heads, d}).to(Device::cuda), dy = randn({batch, t, heads, d}).to(Device::cuda);
  Tensor beta = rand({batch, t, heads}, DType::f32, Device::cpu, 0.0, 1.0).to(Device::cuda);
  const double tokens = double(batch * heads) * double(t), dd = double(d), c = double(C);
  const double fwd_flop = tokens * (6 * c * dd + 4 * c * dd + c * c / 3 + 6 * dd * dd);
  const double bwd_flop = tokens * (18 * c * dd + 10 * c * dd + 4.3 * c * c + 16 * dd * dd);
  const double fwd_ms = testing::median_cuda_ms([&] {
    NoGrad no_grad;
    DeltaRuleOutput out = delta_rule(q, k, v, beta, Tensor(), C, true);
  }, reps);
  const double both_ms = testing::median_cuda_ms([&] {
    Tensor ql = q.detach().set_requires_grad(true), kl = k.detach().set_requires_grad(true);
    Tensor vl = v.detach().set_requires_grad(true), bl = beta.detach().set_requires_grad(true);
    delta_rule(ql, kl, vl, bl, Tensor(), C, true).o.backward(dy);
  }, reps);
  testing::print_fwd_bwd("delta_rule cuda f32 l2", batch, heads, d, t, fwd_flop, bwd_flop, fwd_ms, both_ms);
}
#endif

}  // namespace

TEST_SUITE("cuda_bench") {
  TEST_CASE("cuda delta rule forward and backward timing") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    testing::for_bench_shapes(bench_shape);
#endif
  }
}
