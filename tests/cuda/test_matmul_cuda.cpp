// matmul on the GPU (cuBLAS, TF32 off) against our CPU GEMM: every transpose combination,
// broadcast batches and strided operands, forward and both gradients.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/matmul/matmul.h"

using namespace hqlt;
using hqlt::testing::run_on_both;
using hqlt::testing::tol_for;

TEST_SUITE("cuda") {
  TEST_CASE("cuda matmul matches the CPU for every transpose combination") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(21);
    const int64_t m = 5, k = 7, n = 3;
    for (DType dt : {DType::f32, DType::f64}) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          INFO(dtype_name(dt) << " trans_a " << ta << " trans_b " << tb);
          Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, dt);
          Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, dt);
          run_on_both([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); }, {a, b},
                      tol_for(dt));
        }
      }
    }
  }

  TEST_CASE("cuda matmul with batches broadcasting and strided operands") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(22);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      // Batched times one shared matrix (stride 0 for b; its gradient sums the batch).
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                  {randn({2, 3, 4, 6}, dt), randn({6, 5}, dt)}, tol_for(dt));
      // Both batched with broadcasting batch dims.
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                  {randn({2, 1, 4, 6}, dt), randn({1, 3, 6, 5}, dt)}, tol_for(dt));
      // A transposed view (read in place) and a permuted one (copied first).
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0].transpose(-1, -2), in[1]); },
                  {randn({3, 6, 4}, dt), randn({3, 6, 5}, dt)}, tol_for(dt));
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0].permute({1, 0, 2}), in[1]); },
                  {randn({4, 3, 6}, dt), randn({3, 6, 5}, dt)}, tol_for(dt));
      // Matrix-vector shapes and a larger square product.
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                  {randn({1, 9}, dt), randn({9, 1}, dt)}, tol_for(dt));
      run_on_both([](const std::vector<Tensor>& in) { return matmul(in[0], in[1], false, true); },
                  {randn({65, 130}, dt), randn({97, 130}, dt)}, dt == DType::f32 ? 1e-5 : 1e-11);
    }
  }

  TEST_CASE("cuda matmul with an empty inner dim gives zeros") {
    HQLT_SKIP_WITHOUT_GPU();
    const testing::PoisonedAllocations poisoned;
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor out = matmul(empty({4, 0}, dt, Device::cuda), empty({0, 3}, dt, Device::cuda));
      CHECK(out.to(Device::cpu).to_vector() == std::vector<double>(12, 0.0));
    }
  }
}
