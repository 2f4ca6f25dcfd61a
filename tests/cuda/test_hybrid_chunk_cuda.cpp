// What only the GPU's Delayed-Chunk hybrid op has: the errors for tiles too large for the
// card's shared memory and for block lengths its power-of-two tiles do not take. Its
// results against the reference — the CPU kernels' cases, both dtypes, FW block and chunk
// apart, the models' head dims, through the tape, with NaN-poisoned outputs — are checked by
// the one test body of tests/ops/test_hybrid_chunk.cpp, which runs on every device.
#include <doctest/doctest.h>

#include "cuda_test_utils.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"

using namespace hqlt;

TEST_SUITE("cuda") {
  TEST_CASE("cuda hybrid chunk refuses tiles too large for shared memory and blocks that are not powers of two") {
    HQLT_SKIP_WITHOUT_GPU();
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
  }
}
