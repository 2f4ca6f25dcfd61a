// What only the GPU's delta rule has: the error for a head dim too large for the card's
// shared memory. Its results against the reference — every case of the CPU kernel's, in
// both dtypes, through the tape, with NaN-poisoned outputs — are checked by the one test
// body of tests/ops/test_delta_rule.cpp, which runs on every device.
#include <doctest/doctest.h>

#include "cuda_test_utils.h"
#include "ops/delta_rule/delta_rule.h"

using namespace hqlt;

TEST_SUITE("cuda") {
  TEST_CASE("cuda delta rule refuses a head dim too large for shared memory") {
    HQLT_SKIP_WITHOUT_GPU();
    Tensor q = zeros({1, 4, 1, 2048}, DType::f64, Device::cuda), v = zeros({1, 4, 1, 8}, DType::f64, Device::cuda);
    Tensor beta = zeros({1, 4, 1}, DType::f64, Device::cuda);
    CHECK_THROWS_WITH(delta_rule(q, q, v, beta, Tensor(), 64, false),
                      doctest::Contains("too large for the CUDA kernel"));
  }
}
