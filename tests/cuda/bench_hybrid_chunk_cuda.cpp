// Timing of hybrid_chunk() on the GPU (label cuda_bench; bench/gpu_check.sh runs it with
// `hqlt_tests -ts=cuda_bench`): forward, and forward + backward through the tape (the loss
// reads o_fw + o_kv), f32, ℓ2 inside the op, B = 8, H = 16, d_k = d_v = 64 and 128,
// T = 1k / 4k / 16k, attention chunk = FW block = 64, timed with cuda events.
// TFLOP/s counts docs/math/kernels.md §8's FLOPs per (b, h): forward, the Delayed-Chunk FW read
// part T·(4C d_k + 2C d_v + C²/3 + 6 d_k d_v) plus within-chunk attention T(C+1)(d_k + d_v);
// backward, 2.5× the FW part plus T(C+1)/2·(6 d_k + 4 d_v) — not the kernels' own
// recomputation. "% peak" is of the card's f32 peak (cuda_timing.h).
//
// Without HQLT_BENCH=full it runs one small shape once (quick under `ctest -L cuda`).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"

#ifdef HQLT_HAS_CUDA
#include "cuda_timing.h"
#endif

using namespace hqlt;

namespace {

#ifdef HQLT_HAS_CUDA
void bench_shape(int64_t batch, int64_t heads, int64_t d, int64_t t, int reps) {
  manual_seed(74);
  const int64_t C = 64;
  const Shape rows{batch, t, heads, d};
  Tensor q_fw = rand(rows, DType::f32, Device::cpu, 0.0, 1.0).to(Device::cuda);
  Tensor k_fw = rand(rows, DType::f32, Device::cpu, 0.0, 1.0).to(Device::cuda);
  Tensor q_kv = randn(rows).to(Device::cuda), k_kv = randn(rows).to(Device::cuda);
  Tensor v = randn(rows).to(Device::cuda), dy = randn(rows).to(Device::cuda);
  Tensor beta = rand({batch, t, heads}, DType::f32, Device::cpu, 0.0, 1.0).to(Device::cuda);
  const double tokens = double(batch * heads) * double(t), dd = double(d), c = double(C);
  const double fw_flop = tokens * (4 * c * dd + 2 * c * dd + c * c / 3 + 6 * dd * dd);
  const double kv_flop = tokens * (c + 1) * (dd + dd);
  const double fwd_flop = fw_flop + kv_flop;
  const double bwd_flop = 2.5 * fw_flop + tokens * (c + 1) / 2 * (6 * dd + 4 * dd);
  const double fwd_ms = testing::median_cuda_ms([&] {
    NoGrad no_grad;
    HybridChunkOutput out = hybrid_chunk(q_fw, k_fw, q_kv, k_kv, v, beta, Tensor(), C, C, true);
  }, reps);
  const double both_ms = testing::median_cuda_ms([&] {
    std::vector<Tensor> x;
    for (const Tensor& in : {q_fw, k_fw, q_kv, k_kv, v, beta}) x.push_back(in.detach().set_requires_grad(true));
    HybridChunkOutput out = hybrid_chunk(x[0], x[1], x[2], x[3], x[4], x[5], Tensor(), C, C, true);
    (out.o_fw + out.o_kv).backward(dy);
  }, reps);
  testing::print_fwd_bwd("hybrid_chunk cuda f32 l2", batch, heads, d, t, fwd_flop, bwd_flop, fwd_ms, both_ms);
}
#endif

}  // namespace

TEST_SUITE("cuda_bench") {
  TEST_CASE("cuda hybrid chunk forward and backward timing") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    testing::for_bench_shapes(bench_shape);
#endif
  }
}
