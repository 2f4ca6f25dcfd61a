// Timing of linear_attention() on the GPU (label cuda_bench; bench/gpu_check.sh runs it with
// `hqlt_tests -ts=cuda_bench`): forward, and forward + backward, f32, both normalisers,
// B = 8, H = 16, d_k = d_v = 64 and 128, T = 1k / 4k / 16k, chunk 64, timed with cuda events.
// TFLOP/s counts docs/math/kernels.md §8's FLOPs of chunked linear attention, forward
// T·(2C(d_k + d_v) + 4 d_k d_v) per (b, h) and the backward as 2.5× that — not the kernel's
// own recomputation of the chunk's [C, C] tiles in every slice of d_v and in both sweeps of
// the backward. "% peak" is of the card's f32 peak (cuda_timing.h).
//
// Without HQLT_BENCH=full it runs one small shape once (quick under `ctest -L cuda`).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/linear_attention/linear_attention.h"

#ifdef HQLT_HAS_CUDA
#include "cuda_timing.h"
#endif

using namespace hqlt;

namespace {

#ifdef HQLT_HAS_CUDA
void bench_shape(int64_t batch, int64_t heads, int64_t d, int64_t t, LinearAttentionNormalizer normalizer, int reps) {
  manual_seed(74);
  const int64_t C = 64;
  Tensor q = randn({batch, t, heads, d}).to(Device::cuda), k = randn({batch, t, heads, d}).to(Device::cuda);
  Tensor v = randn({batch, t, heads, d}).to(Device::cuda), dy = randn({batch, t, heads, d}).to(Device::cuda);
  const double tokens = double(batch * heads) * double(t), dd = double(d), c = double(C);
  const double fwd_flop = tokens * (2 * c * (dd + dd) + 4 * dd * dd);
  const double bwd_flop = 2.5 * fwd_flop;
  const double fwd_ms = testing::median_cuda_ms([&] {
    NoGrad no_grad;
    Tensor out = linear_attention(q, k, v, C, normalizer);
  }, reps);
  const double both_ms = testing::median_cuda_ms([&] {
    Tensor ql = q.detach().set_requires_grad(true), kl = k.detach().set_requires_grad(true);
    Tensor vl = v.detach().set_requires_grad(true);
    linear_attention(ql, kl, vl, C, normalizer).backward(dy);
  }, reps);
  const char* what = normalizer == LinearAttentionNormalizer::time ? "linear_attention cuda f32 time           "
                                                                   : "linear_attention cuda f32 reference_heads";
  testing::print_fwd_bwd(what, batch, heads, d, t, fwd_flop, bwd_flop, fwd_ms, both_ms);
}
#endif

}  // namespace

TEST_SUITE("cuda_bench") {
  TEST_CASE("cuda linear attention forward and backward timing") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    const LinearAttentionNormalizer normalizers[] = {LinearAttentionNormalizer::reference_heads,
                                                     LinearAttentionNormalizer::time};
    testing::for_bench_shapes([&](int64_t batch, int64_t heads, int64_t d, int64_t t, int reps) {
      for (LinearAttentionNormalizer n : normalizers) {
        bench_shape(batch, heads, d, t, n, reps);
        if (!testing::full_bench()) break;  // the quick run: one normaliser
      }
    });
#endif
  }
}
