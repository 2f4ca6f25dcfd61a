// What only the GPU's chunked linear attention has: empty value vectors through the op on
// the card, and the error for a head dim too large for its shared memory. Its results
// against the reference — the CPU kernel's cases, both dtypes and normalisers, strided
// inputs, the models' head dims, through the tape, with NaN-poisoned outputs — are checked
// by the one test body of tests/ops/test_linear_attention.cpp, which runs on every device.
#include <doctest/doctest.h>

#include "cuda_test_utils.h"
#include "engine/rng.h"
#include "ops/linear_attention/linear_attention.h"

using namespace hqlt;

TEST_SUITE("cuda") {
  TEST_CASE("cuda linear attention with d_v = 0 gives zero gradients") {
    HQLT_SKIP_WITHOUT_GPU();
    Tensor q = randn({1, 3, 2, 4}).to(Device::cuda).set_requires_grad(true);
    Tensor out = linear_attention(q, q, zeros({1, 3, 2, 0}, DType::f32, Device::cuda), 2);
    CHECK(out.shape() == Shape{1, 3, 2, 0});
    out.backward(zeros({1, 3, 2, 0}, DType::f32, Device::cuda));
    for (double g : q.grad().to(Device::cpu).to_vector()) CHECK(g == 0.0);
  }

  TEST_CASE("cuda linear attention refuses a head dim too large for shared memory") {
    HQLT_SKIP_WITHOUT_GPU();
    Tensor q = zeros({1, 4, 1, 8192}, DType::f64, Device::cuda), v = zeros({1, 4, 1, 8}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(linear_attention(q, q, v), doctest::Contains("too large for the CUDA kernel"));
  }
}
