// Chunked linear attention on the GPU (ops/linear_attention/linear_attention.cu) against the
// CPU kernel: output, normaliser and every gradient, f32 (≤ 1e-4 relative) and f64, both
// normalisers, over the lengths and chunks of the CPU tests and the models' head dims (64,
// 128); outputs come from allocator blocks poisoned with NaN. Then the public op through the
// tape (also from strided inputs), and the error for a head dim too large for the card.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "cuda_compare.h"
#include "cuda_test_utils.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/linear_attention/linear_attention.h"

#ifdef HQLT_HAS_CUDA
#include "ops/linear_attention/linear_attention_cuda.h"
#endif

using namespace hqlt;
using hqlt::testing::expect_close;
using hqlt::testing::check_pairs;
using hqlt::testing::poison_next_allocations;
using Normalizer = LinearAttentionNormalizer;

namespace {

struct Case {
  int64_t B = 2, T = 7, H = 3, dk = 16, dv = 12, chunk = 16;
  Normalizer normalizer = Normalizer::reference_heads;
  DType dt = DType::f32;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << dtype_name(c.dt) << " B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " normalizer=" << (c.normalizer == Normalizer::time ? "time" : "reference_heads");
}

const Normalizer kNormalizers[] = {Normalizer::reference_heads, Normalizer::time};

#ifdef HQLT_HAS_CUDA
std::vector<double> host(const Tensor& t) { return t.to(Device::cpu).to_vector(); }

void check_kernels(const Case& c) {
  CAPTURE(c);
  using linear_attention_detail::Problem;
  const double tol = c.dt == DType::f32 ? 1e-4 : 1e-10, eps = 1e-10;
  const Problem dims{c.B, c.T, c.H, c.dk, c.dv, c.chunk};
  const Tensor q = randn({c.B, c.T, c.H, c.dk}, c.dt), k = randn({c.B, c.T, c.H, c.dk}, c.dt);
  const Tensor v = randn({c.B, c.T, c.H, c.dv}, c.dt), d_o = randn({c.B, c.T, c.H, c.dv}, c.dt);
  const Tensor qg = q.to(Device::cuda), kg = k.to(Device::cuda), vg = v.to(Device::cuda), dog = d_o.to(Device::cuda);

  Tensor out = empty(v.shape(), c.dt), z = empty({c.B, c.T, c.H}, c.dt);
  Tensor dq = empty(q.shape(), c.dt), dk = empty(k.shape(), c.dt), dv = empty(v.shape(), c.dt);
  dispatch_float(c.dt, "test", [&]<typename T>() {
    linear_attention_detail::forward_cpu<T>(q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), z.data<T>(), dims,
                                            c.normalizer, T(eps));
    linear_attention_detail::backward_cpu<T>(q.data<T>(), k.data<T>(), v.data<T>(), z.data<T>(), out.data<T>(),
                                             d_o.data<T>(), dq.data<T>(), dk.data<T>(), dv.data<T>(), dims,
                                             c.normalizer, T(eps));
  });

  poison_next_allocations(out.numel(), c.dt, 4);
  poison_next_allocations(z.numel(), c.dt, 4);
  Tensor out_g = empty(out.shape(), c.dt, Device::cuda), z_g = empty(z.shape(), c.dt, Device::cuda);
  linear_attention_detail::forward_cuda(qg, kg, vg, out_g, z_g, dims, c.normalizer, eps);
  {
    INFO("out");
    expect_close(host(out_g), out.to_vector(), tol);
  }
  {
    INFO("z");
    expect_close(host(z_g), z.to_vector(), tol);
  }
  // The backward from the GPU's own z and output, as the tape would run it; its workspaces
  // (dz, the partial sums) and the gradients come from poisoned blocks too.
  for (const Tensor& t : {q, v, z}) poison_next_allocations(t.numel(), c.dt, 8);
  Tensor dq_g = empty(q.shape(), c.dt, Device::cuda), dk_g = empty(k.shape(), c.dt, Device::cuda);
  Tensor dv_g = empty(v.shape(), c.dt, Device::cuda);
  linear_attention_detail::backward_cuda(qg, kg, vg, z_g, out_g, dog, dq_g, dk_g, dv_g, dims, c.normalizer, eps);
  check_pairs("gradient", {{"dq", dq_g, dq}, {"dk", dk_g, dk}, {"dv", dv_g, dv}}, tol);
}
#endif

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda linear attention matches the CPU kernel over lengths and chunks") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(121);
    testing::for_each_chunked_length([&](int64_t chunk, int64_t T) {
      for (int64_t H : {1, 3})
        for (Normalizer n : kNormalizers)
          for (DType dt : {DType::f32, DType::f64}) {
            Case c;
            c.T = T, c.chunk = chunk, c.H = H, c.normalizer = n, c.dt = dt, c.dk = 6, c.dv = 5;
            check_kernels(c);
          }
    });
#endif
  }

  TEST_CASE("cuda linear attention matches the CPU kernel at the models' head dims") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(122);
    for (Normalizer n : kNormalizers) {
      for (int64_t d : {32, 64, 128}) {
        Case c;
        c.B = 2, c.H = 4, c.T = 200, c.dk = d, c.dv = d, c.chunk = 64, c.normalizer = n;
        check_kernels(c);
      }
      Case uneven;  // d_k ≠ d_v, d_v not a multiple of the slice width
      uneven.B = 1, uneven.H = 3, uneven.T = 130, uneven.dk = 96, uneven.dv = 100, uneven.chunk = 64;
      uneven.normalizer = n;
      check_kernels(uneven);
      Case f64 = uneven;
      f64.dt = DType::f64, f64.dk = 64, f64.dv = 72;
      check_kernels(f64);
      Case tiny_chunk;  // chunk_size below 8 runs as asked
      tiny_chunk.T = 37, tiny_chunk.chunk = 2, tiny_chunk.normalizer = n;
      check_kernels(tiny_chunk);
      Case empty_seq;  // T = 0
      empty_seq.T = 0, empty_seq.normalizer = n;
      check_kernels(empty_seq);
    }
#endif
  }

  TEST_CASE("cuda linear attention through the tape gives the CPU's gradients") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(123);
    for (Normalizer n : kNormalizers)
      for (DType dt : {DType::f32, DType::f64}) {
        const std::string dtype_label = dtype_name(dt);
        CAPTURE(dtype_label);
        const Tensor q = randn({2, 70, 3, 32}, dt), k = randn({2, 70, 3, 32}, dt), v = randn({2, 70, 3, 24}, dt);
        testing::run_on_both([&](const std::vector<Tensor>& x) { return linear_attention(x[0], x[1], x[2], 32, n); },
                             {q, k, v}, dt == DType::f32 ? 1e-4 : 1e-10);
      }
    // Strided inputs (a head-major view) and d_v = 0 through the op on the card.
    const Tensor q = randn({1, 40, 16, 2}), v = randn({1, 40, 8, 2});
    const Tensor qg = q.to(Device::cuda).transpose(2, 3), vg = v.to(Device::cuda).transpose(2, 3);
    const Tensor want = linear_attention(q.transpose(2, 3), q.transpose(2, 3), v.transpose(2, 3), 16);
    expect_close(host(linear_attention(qg, qg, vg, 16)), want.to_vector(), 1e-4);
    Tensor q2 = randn({1, 3, 2, 4}).to(Device::cuda).set_requires_grad(true);
    Tensor out = linear_attention(q2, q2, zeros({1, 3, 2, 0}, DType::f32, Device::cuda), 2);
    out.backward(zeros({1, 3, 2, 0}, DType::f32, Device::cuda));
    for (double g : host(q2.grad())) CHECK(g == 0.0);
#endif
  }

  TEST_CASE("cuda linear attention refuses a head dim too large for shared memory") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor q = zeros({1, 4, 1, 8192}, DType::f64, Device::cuda), v = zeros({1, 4, 1, 8}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(linear_attention(q, q, v), doctest::Contains("too large for the CUDA kernel"));
#endif
  }
}
