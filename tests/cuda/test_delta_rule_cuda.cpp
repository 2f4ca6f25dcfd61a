// The fused delta rule on the GPU (ops/delta_rule/delta_rule.cu) against the CPU kernel:
// forward, final state and every gradient, f32 (≤ 1e-4 relative) and f64, over the sizes
// of the CPU tests and the models' head dims (64, 128), with and without ℓ2, initial state
// and each output's gradient; outputs come from allocator blocks poisoned with NaN. Then
// the public op through the tape, and the error for a head dim too large for the card.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "cuda_compare.h"
#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/delta_rule/delta_rule.h"
#include "ops/elementwise/elementwise.h"
#include "ops/norm/norm.h"

#ifdef HQLT_HAS_CUDA
#include "ops/delta_rule/delta_rule_cuda.h"
#endif

using namespace hqlt;
using hqlt::testing::expect_close;
using hqlt::testing::check_pairs;
using hqlt::testing::poison_next_allocations;

namespace {

struct Case {
  int64_t B = 2, T = 7, H = 3, dk = 16, dv = 12, chunk = 16;
  bool l2 = false, init = true, grad_o = true, grad_final = true;
  DType dt = DType::f32;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << dtype_name(c.dt) << " B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk
           << " d_v=" << c.dv << " chunk=" << c.chunk << " l2=" << c.l2 << " init=" << c.init
           << " grad_o=" << c.grad_o << " grad_final=" << c.grad_final;
}

#ifdef HQLT_HAS_CUDA
struct Inputs {
  Tensor q, k, v, beta, s0, d_o, d_fin;
  Inputs to_cuda() const {
    auto move = [](const Tensor& t) { return t.defined() ? t.to(Device::cuda) : Tensor(); };
    return {move(q), move(k), move(v), move(beta), move(s0), move(d_o), move(d_fin)};
  }
};

Inputs draw(const Case& c) {
  NoGrad no_grad;
  Inputs in;
  in.q = randn({c.B, c.T, c.H, c.dk}, c.dt);
  Tensor k = randn({c.B, c.T, c.H, c.dk}, c.dt, Device::cpu, 0.0, 2.0);
  // Without in-op ℓ2 the keys get norms in [0.3, 1] so the recurrence stays bounded.
  in.k = c.l2 ? k : l2_normalize(k) * rand({c.B, c.T, c.H, 1}, c.dt, Device::cpu, 0.3, 1.0);
  in.v = randn({c.B, c.T, c.H, c.dv}, c.dt);
  in.beta = rand({c.B, c.T, c.H}, c.dt, Device::cpu, 0.05, 1.95);
  if (c.init) in.s0 = randn({c.B, c.H, c.dk, c.dv}, c.dt, Device::cpu, 0.0, 0.5);
  if (c.grad_o) in.d_o = randn({c.B, c.T, c.H, c.dv}, c.dt);
  if (c.grad_final) in.d_fin = randn({c.B, c.H, c.dk, c.dv}, c.dt);
  return in;
}

std::vector<double> host(const Tensor& t) { return t.to(Device::cpu).to_vector(); }

void check_kernels(const Case& c) {
  CAPTURE(c);
  const double tol = c.dt == DType::f32 ? 1e-4 : 1e-10;
  const Inputs cpu = draw(c), gpu = cpu.to_cuda();
  Tensor o = empty({c.B, c.T, c.H, c.dv}, c.dt), fin = empty({c.B, c.H, c.dk, c.dv}, c.dt);
  detail::delta_rule_forward_cpu(cpu.q, cpu.k, cpu.v, cpu.beta, cpu.s0, c.chunk, c.l2, o, fin);
  const detail::DeltaRuleGrads want =
      detail::delta_rule_backward_cpu(cpu.q, cpu.k, cpu.v, cpu.beta, cpu.s0, cpu.d_o, cpu.d_fin, c.chunk, c.l2);

  poison_next_allocations(o.numel(), c.dt, 4);
  poison_next_allocations(fin.numel(), c.dt, 4);
  Tensor o_gpu = empty(o.shape(), c.dt, Device::cuda), fin_gpu = empty(fin.shape(), c.dt, Device::cuda);
  detail::delta_rule_forward_cuda(gpu.q, gpu.k, gpu.v, gpu.beta, gpu.s0, c.chunk, c.l2, o_gpu, fin_gpu);
  {
    INFO("o");
    expect_close(host(o_gpu), o.to_vector(), tol);
  }
  {
    INFO("final state");
    expect_close(host(fin_gpu), fin.to_vector(), tol);
  }
  for (const Tensor& t : {cpu.q, cpu.v, cpu.beta, fin}) poison_next_allocations(t.numel(), c.dt, 8);
  const detail::DeltaRuleGrads got =
      detail::delta_rule_backward_cuda(gpu.q, gpu.k, gpu.v, gpu.beta, gpu.s0, gpu.d_o, gpu.d_fin, c.chunk, c.l2);
  check_pairs("gradient",
              {{"dq", got.dq, want.dq},
               {"dk", got.dk, want.dk},
               {"dv", got.dv, want.dv},
               {"dbeta", got.dbeta, want.dbeta},
               {"dinitial_state", got.dinitial_state, want.dinitial_state}},
              tol);
}
#endif

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda delta rule matches the CPU kernel over lengths and options") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(101);
    int mix = 0;
    testing::for_each_chunked_length([&](int64_t chunk, int64_t T) {
      for (DType dt : {DType::f32, DType::f64}) {
        Case c;
        c.T = T, c.chunk = chunk, c.dt = dt;
        c.l2 = mix & 1, c.init = mix & 2, c.grad_final = mix & 4, c.grad_o = (mix % 7) != 3;
        ++mix;
        check_kernels(c);
      }
    });
#endif
  }

  TEST_CASE("cuda delta rule matches the CPU kernel at the models' head dims") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(102);
    for (int64_t d : {32, 64, 128}) {
      Case c;
      c.B = 2, c.H = 2, c.T = 200, c.dk = d, c.dv = d, c.chunk = 64, c.l2 = true;
      check_kernels(c);
    }
    Case uneven;  // d_k ≠ d_v, d_v not a multiple of the slice width
    uneven.B = 1, uneven.H = 3, uneven.T = 130, uneven.dk = 96, uneven.dv = 100, uneven.chunk = 64, uneven.l2 = true;
    check_kernels(uneven);
    Case f64 = uneven;
    f64.dt = DType::f64, f64.dk = 64, f64.dv = 72;
    check_kernels(f64);
    Case empty_seq;  // T = 0: the final state is the initial one, its gradient d_final
    empty_seq.T = 0;
    check_kernels(empty_seq);
#endif
  }

  TEST_CASE("cuda delta rule through the tape gives the CPU's gradients") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(103);
    Case c;
    c.B = 2, c.T = 70, c.H = 2, c.dk = 32, c.dv = 24, c.chunk = 32, c.l2 = true;
    const Inputs in = draw(c);
    std::vector<std::vector<double>> results[2];
    for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
      const Device dev = on_gpu ? Device::cuda : Device::cpu;
      std::vector<Tensor> x;
      for (const Tensor& t : {in.q, in.k, in.v, in.beta, in.s0}) x.push_back(t.detach().to(dev).set_requires_grad(true));
      DeltaRuleOutput out = delta_rule(x[0], x[1], x[2], x[3], x[4], c.chunk, c.l2);
      REQUIRE(out.o.device() == dev);
      out.o.backward(in.d_o.to(dev));  // the final state gets no gradient: read as zero
      results[on_gpu].push_back(host(out.o));
      results[on_gpu].push_back(host(out.final_state));
      for (const Tensor& t : x) results[on_gpu].push_back(host(t.grad()));
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      INFO("result " << i << " (o, final state, dq, dk, dv, dbeta, dinitial_state)");
      expect_close(results[1][i], results[0][i], 1e-4);
    }
#endif
  }

  TEST_CASE("cuda delta rule refuses a head dim too large for shared memory") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor q = zeros({1, 4, 1, 2048}, DType::f64, Device::cuda), v = zeros({1, 4, 1, 8}, DType::f64, Device::cuda);
    Tensor beta = zeros({1, 4, 1}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(delta_rule(q, q, v, beta, Tensor(), 64, false),
                      doctest::Contains("too large for the CUDA kernel"));
#endif
  }
}
