// What only the GPU's attention has: no query rows against the CPU kernel (tests/cuda/
// cuda_compare.h), the same bits on every run, and the error for head dims over 128. Its
// results against the reference — every mask, lengths around its tiles, grouped queries, a
// query offset, the models' head dims, f32 and f64, with NaN-poisoned outputs — are checked
// by the one test body of tests/ops/test_attention.cpp, which runs on every device.
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"

using namespace hqlt;
using hqlt::testing::expect_close;
using hqlt::testing::reduction_tol;
using hqlt::testing::run_on_both;

namespace {

struct Mask {
  bool causal;
  int64_t window;
};

void compare(int64_t batch, int64_t q_len, int64_t k_len, int64_t heads, int64_t d_k, int64_t d_v, Mask mask,
             int64_t offset, DType dt, int64_t kv_heads = 0) {
  if (kv_heads == 0) kv_heads = heads;
  INFO("B " << batch << " Tq " << q_len << " Tk " << k_len << " H " << heads << " H_kv " << kv_heads << " d_k "
            << d_k << " d_v " << d_v << " causal " << mask.causal << " window " << mask.window << " offset "
            << offset << " " << dtype_name(dt));
  Tensor q = randn({batch, q_len, heads, d_k}, dt), k = randn({batch, k_len, kv_heads, d_k}, dt);
  Tensor v = randn({batch, k_len, kv_heads, d_v}, dt);
  const double scale = 1.0 / std::sqrt(double(d_k));
  run_on_both([&](const std::vector<Tensor>& in) {
    return attention(in[0], in[1], in[2], mask.causal, mask.window, scale, offset);
  }, {q, k, v}, reduction_tol(dt));
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda attention with no query rows gives zero key and value gradients") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(67);
    compare(2, 0, 9, 2, 32, 32, {false, -1}, 0, DType::f32);
    compare(2, 0, 9, 2, 32, 32, {true, 4}, 3, DType::f32);
  }

  TEST_CASE("cuda attention gives the same bits on every run") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(68);
    Tensor q = randn({2, 300, 2, 64}), k = randn({2, 300, 2, 64}), v = randn({2, 300, 2, 64});
    Tensor dy = randn({2, 300, 2, 64}).to(Device::cuda);
    std::vector<std::vector<double>> first;
    for (int run = 0; run < 2; ++run) {
      Tensor qd = q.to(Device::cuda).set_requires_grad(true), kd = k.to(Device::cuda).set_requires_grad(true);
      Tensor vd = v.to(Device::cuda).set_requires_grad(true);
      Tensor y = attention(qd, kd, vd, true, 64, 0.125);
      y.backward(dy);
      std::vector<std::vector<double>> got;
      for (const Tensor& t : {y.detach(), qd.grad(), kd.grad(), vd.grad()}) got.push_back(t.to(Device::cpu).to_vector());
      if (run == 0) {
        first = got;
      } else {
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == first[i]);
      }
    }
  }

  TEST_CASE("cuda attention refuses head dims over 128") {
    HQLT_SKIP_WITHOUT_GPU();
    Tensor q = randn({1, 4, 1, 129}).to(Device::cuda), v = randn({1, 4, 1, 8}).to(Device::cuda);
    CHECK_THROWS_WITH(attention(q, q, v, true, -1, 0.1), doctest::Contains("supports head dims up to 128"));
  }
}
