// The fused Delayed-Chunk hybrid op on the GPU (ops/hybrid_chunk/hybrid_chunk.cu) against the
// CPU kernels: o_fw, o_kv, LSE, the final state and every gradient, f32 (≤ 1e-4 relative)
// and f64, over the sizes of the CPU tests (short and partial chunks, FW block ≠ attention
// chunk, a FW block of 128 split into kernel chunks) and the models' head dims (64, 128),
// with and without ℓ2, initial state and each output's gradient; outputs come from
// allocator blocks poisoned with NaN. Then the public op through the tape, and the errors
// for tiles too large for the card.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "cuda_compare.h"
#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"

#ifdef HQLT_HAS_CUDA
#include "ops/hybrid_chunk/hybrid_chunk_cuda.h"
#endif

using namespace hqlt;
using hqlt::testing::expect_close;
using hqlt::testing::check_pairs;
using hqlt::testing::poison_next_allocations;
namespace hc = hqlt::hybrid_chunk_detail;

namespace {

struct Case {
  int64_t B = 2, T = 7, H = 3, dk = 16, dv = 12, chunk = 16, fw_block = 16;
  bool l2 = false, init = true, grad_fw = true, grad_kv = true, grad_final = true;
  double scale = 0;
  DType dt = DType::f32;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << dtype_name(c.dt) << " B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk
           << " d_v=" << c.dv << " chunk=" << c.chunk << " fw_block=" << c.fw_block << " l2=" << c.l2
           << " init=" << c.init << " grad_fw=" << c.grad_fw << " grad_kv=" << c.grad_kv
           << " grad_final=" << c.grad_final << " scale=" << c.scale;
}

#ifdef HQLT_HAS_CUDA
struct Drawn {
  hc::Inputs in;
  Tensor d_fw, d_kv, d_fin;
};

Tensor to_cuda(const Tensor& t) { return t.defined() ? t.to(Device::cuda) : Tensor(); }

Drawn draw(const Case& c) {
  NoGrad no_grad;
  const Shape qk{c.B, c.T, c.H, c.dk}, vs{c.B, c.T, c.H, c.dv}, st{c.B, c.H, c.dk, c.dv};
  Drawn d;
  d.in.q_fw = silu(randn(qk, c.dt, Device::cpu, 0.0, 2.0));
  const Tensor k = silu(randn(qk, c.dt, Device::cpu, 0.0, 2.0));
  // Without in-op ℓ2 the keys get norms in [0.3, 1] so the recurrence stays bounded.
  d.in.k_fw = c.l2 ? k : l2_normalize(k) * rand({c.B, c.T, c.H, 1}, c.dt, Device::cpu, 0.3, 1.0);
  d.in.q_kv = randn(qk, c.dt), d.in.k_kv = randn(qk, c.dt), d.in.v = randn(vs, c.dt);
  d.in.beta = rand({c.B, c.T, c.H}, c.dt, Device::cpu, 0.05, 1.95);
  if (c.init) d.in.initial_state = randn(st, c.dt, Device::cpu, 0.0, 0.5);
  if (c.grad_fw) d.d_fw = randn(vs, c.dt);
  if (c.grad_kv) d.d_kv = randn(vs, c.dt);
  if (c.grad_final) d.d_fin = randn(st, c.dt);
  return d;
}

std::vector<double> host(const Tensor& t) { return t.to(Device::cpu).to_vector(); }

void check_kernels(const Case& c) {
  CAPTURE(c);
  const double tol = c.dt == DType::f32 ? 1e-4 : 1e-10;
  const Drawn cpu = draw(c);
  const hc::Inputs gpu{to_cuda(cpu.in.q_fw), to_cuda(cpu.in.k_fw), to_cuda(cpu.in.q_kv), to_cuda(cpu.in.k_kv),
                       to_cuda(cpu.in.v),    to_cuda(cpu.in.beta), to_cuda(cpu.in.initial_state)};
  hc::Problem p;
  p.batch = c.B, p.time = c.T, p.heads = c.H, p.dk = c.dk, p.dv = c.dv;
  p.kv_chunk = c.chunk, p.fw_block = c.fw_block, p.l2 = c.l2;
  p.scale = c.scale == 0 ? 1.0 / std::sqrt(double(c.dk)) : c.scale;
  const Shape vs{c.B, c.T, c.H, c.dv}, st{c.B, c.H, c.dk, c.dv}, ls{c.B, c.H, c.T};

  const Tensor o_fw = empty(vs, c.dt), o_kv = empty(vs, c.dt), fin = empty(st, c.dt), lse = empty(ls, c.dt);
  hc::forward_cpu(p, cpu.in, o_fw, o_kv, fin, lse);
  const hc::Grads want = hc::backward_cpu(p, cpu.in, lse, cpu.d_fw, cpu.d_kv, cpu.d_fin);

  for (const Tensor& t : {o_fw, o_fw, fin, lse}) poison_next_allocations(t.numel(), c.dt, 4);
  const Tensor g_fw = empty(vs, c.dt, Device::cuda), g_kv = empty(vs, c.dt, Device::cuda);
  const Tensor g_fin = empty(st, c.dt, Device::cuda), g_lse = empty(ls, c.dt, Device::cuda);
  hc::forward_cuda(p, gpu, g_fw, g_kv, g_fin, g_lse);
  check_pairs("forward", {{"o_fw", g_fw, o_fw}, {"o_kv", g_kv, o_kv}, {"final state", g_fin, fin}, {"lse", g_lse, lse}},
              tol);

  for (const Tensor& t : {cpu.in.q_fw, cpu.in.v, cpu.in.beta, fin}) poison_next_allocations(t.numel(), c.dt, 8);
  // The backward reads the GPU's own LSE, as the tape does.
  const hc::Grads got = hc::backward_cuda(p, gpu, g_lse, to_cuda(cpu.d_fw), to_cuda(cpu.d_kv), to_cuda(cpu.d_fin));
  check_pairs("gradient",
              {{"dq_fw", got.q_fw, want.q_fw},
               {"dk_fw", got.k_fw, want.k_fw},
               {"dq_kv", got.q_kv, want.q_kv},
               {"dk_kv", got.k_kv, want.k_kv},
               {"dv", got.v, want.v},
               {"dbeta", got.beta, want.beta},
               {"dinitial_state", got.initial_state, want.initial_state}},
              tol);
}
#endif

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda hybrid chunk matches the CPU kernel over lengths and options") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(121);
    int mix = 0;
    testing::for_each_chunked_length([&](int64_t chunk, int64_t T) {
      for (DType dt : {DType::f32, DType::f64}) {
        Case c;
        c.T = T, c.chunk = chunk, c.fw_block = chunk, c.dt = dt;
        c.l2 = mix & 1, c.init = mix & 2, c.grad_final = mix & 4, c.grad_fw = (mix % 7) != 3;
        c.grad_kv = (mix % 5) != 2;
        ++mix;
        check_kernels(c);
      }
    });
#endif
  }

  TEST_CASE("cuda hybrid chunk with FW block and attention chunk apart") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(122);
    for (DType dt : {DType::f32, DType::f64}) {
      Case quirk;  // the reference's FW block of 64 under an attention chunk of 16
      quirk.T = 150, quirk.chunk = 16, quirk.fw_block = 64, quirk.l2 = true, quirk.dt = dt;
      check_kernels(quirk);
      // A FW block of 128 runs as kernel chunks of 64; attention chunk 128 (its backward
      // tiles fit in f32 only: 64 in f64).
      Case big;
      big.T = 300, big.B = 1, big.H = 2, big.dk = 32, big.dv = 40, big.fw_block = 128;
      big.chunk = dt == DType::f32 ? 128 : 64, big.l2 = true, big.dt = dt;
      check_kernels(big);
      Case scaled;
      scaled.T = 40, scaled.chunk = 8, scaled.fw_block = 32, scaled.scale = 0.3, scaled.dt = dt;
      check_kernels(scaled);
    }
#endif
  }

  TEST_CASE("cuda hybrid chunk matches the CPU kernel at the models' head dims") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(123);
    for (int64_t d : {32, 64, 128}) {
      Case c;
      c.B = 2, c.H = 2, c.T = 200, c.dk = d, c.dv = d, c.chunk = 64, c.fw_block = 64, c.l2 = true;
      check_kernels(c);
    }
    Case uneven;  // d_k ≠ d_v, d_v not a multiple of the slice width
    uneven.B = 1, uneven.H = 3, uneven.T = 130, uneven.dk = 96, uneven.dv = 100, uneven.chunk = 64;
    uneven.fw_block = 64, uneven.l2 = true;
    check_kernels(uneven);
    Case f64 = uneven;
    f64.dt = DType::f64, f64.dk = 64, f64.dv = 72;
    check_kernels(f64);
    Case empty_seq;  // T = 0: the final state is the initial one, its gradient d_final
    empty_seq.T = 0;
    check_kernels(empty_seq);
#endif
  }

  TEST_CASE("cuda hybrid chunk through the tape gives the CPU's gradients") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(124);
    Case c;
    c.B = 2, c.T = 70, c.H = 2, c.dk = 32, c.dv = 24, c.chunk = 16, c.fw_block = 32, c.l2 = true;
    const Drawn d = draw(c);
    std::vector<std::vector<double>> results[2];
    for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
      const Device dev = on_gpu ? Device::cuda : Device::cpu;
      std::vector<Tensor> x;
      for (const Tensor& t : {d.in.q_fw, d.in.k_fw, d.in.q_kv, d.in.k_kv, d.in.v, d.in.beta, d.in.initial_state})
        x.push_back(t.detach().to(dev).set_requires_grad(true));
      HybridChunkOutput out = hybrid_chunk(x[0], x[1], x[2], x[3], x[4], x[5], x[6], c.chunk, c.fw_block, c.l2);
      REQUIRE(out.o_fw.device() == dev);
      // The final state gets no gradient: read as zero.
      sum(out.o_fw * d.d_fw.to(dev) + out.o_kv * d.d_kv.to(dev)).backward();
      results[on_gpu].push_back(host(out.o_fw));
      results[on_gpu].push_back(host(out.o_kv));
      results[on_gpu].push_back(host(out.final_state));
      for (const Tensor& t : x) results[on_gpu].push_back(host(t.grad()));
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      INFO("result " << i << " (o_fw, o_kv, final state, then the gradients of the seven inputs)");
      expect_close(results[1][i], results[0][i], 1e-4);
    }
#endif
  }

  TEST_CASE("cuda hybrid chunk refuses tiles too large for shared memory and blocks that are not powers of two") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor q = zeros({1, 4, 1, 2048}, DType::f64, Device::cuda), v = zeros({1, 4, 1, 8}, DType::f64, Device::cuda);
    Tensor beta = zeros({1, 4, 1}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(hybrid_chunk(q, q, q, q, v, beta, Tensor(), 8, 64, false),
                      doctest::Contains("too large for the CUDA kernel"));
    // Attention chunk 128 with d_k = 128 in f64: the score and row tiles exceed the card's.
    Tensor q128 = zeros({1, 4, 1, 128}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(hybrid_chunk(q128, q128, q128, q128, v, beta, Tensor(), 128, 64, false),
                      doctest::Contains("chunk_size = 128"));
    // Block lengths the CPU kernels take but the GPU's power-of-two tiles do not.
    Tensor q8 = zeros({1, 4, 1, 8}, DType::f32, Device::cuda), v8 = zeros({1, 4, 1, 8}, DType::f32, Device::cuda);
    Tensor beta8 = zeros({1, 4, 1}, DType::f32, Device::cuda);
    CHECK_THROWS_WITH(hybrid_chunk(q8, q8, q8, q8, v8, beta8, Tensor(), 12, 64),
                      doctest::Contains("argument 'chunk_size': expected a power of two in [8, 128], got 12"));
    CHECK_THROWS_WITH(hybrid_chunk(q8, q8, q8, q8, v8, beta8, Tensor(), 8, 4),
                      doctest::Contains("argument 'fw_block_size': expected a power of two in [8, 128], got 4"));
#endif
  }
}
