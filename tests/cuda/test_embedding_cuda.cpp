// embedding and index_select on the GPU (ops/embedding/embedding.cu) against the CPU op:
// forward and the scatter-add backward, which use the same adds in the same order and so
// must agree to the bit; repeated and unused rows, the padding row, ids on either device,
// i32 ids, D spanning several column blocks, strided tables; then an id out of range.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/embedding/embedding.h"

using namespace hqlt;
using hqlt::testing::run_on_both;

TEST_SUITE("cuda") {
  TEST_CASE("cuda embedding matches the CPU bit for bit") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(61);
    struct Case {
      int64_t V, D, B, T, pad;
      DType id_dtype;
    };
    const Case cases[] = {{7, 5, 2, 9, -1, DType::i64}, {7, 70, 3, 11, 2, DType::i32}, {1, 1, 1, 4, -1, DType::i64},
                          {50, 3, 1, 1, 0, DType::i64}, {1000, 300, 4, 64, 3, DType::i64}};
    for (const Case& c : cases) {
      for (DType dt : {DType::f32, DType::f64}) {
        for (bool ids_on_gpu : {false, true}) {
          INFO(dtype_name(dt) << " V=" << c.V << " D=" << c.D << " T=" << c.T << " pad=" << c.pad
                              << " ids_on_gpu=" << ids_on_gpu);
          // Ids from half the vocabulary: some rows repeat, some are never read.
          Tensor ids = randint(0, (c.V + 1) / 2, {c.B, c.T}, c.id_dtype);
          if (c.pad >= 0) copy_into(ids.slice(1, 0, 1), full({c.B, 1}, double(c.pad), c.id_dtype));
          Tensor ids_gpu = ids.to(Device::cuda);
          run_on_both(
              [&](const std::vector<Tensor>& in) {
                const bool gpu = in[0].device() == Device::cuda;
                return embedding(in[0], gpu && ids_on_gpu ? ids_gpu : ids, c.pad);
              },
              {randn({c.V, c.D}, dt)}, 0.0);
        }
      }
    }
#endif
  }

  TEST_CASE("cuda index_select matches the CPU on every dim and strided input") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(62);
    Tensor idx = from_vector({3, 0, 3, 1, 3}, {5}, DType::i64);
    for (DType dt : {DType::f32, DType::f64}) {
      for (int64_t dim : {0, 1, 2, -1}) {
        INFO(dtype_name(dt) << " dim=" << dim);
        run_on_both([&](const std::vector<Tensor>& in) { return index_select(in[0], dim, idx); },
                    {randn({4, 5, 6}, dt)}, 0.0);
        // A transposed (non-contiguous) input.
        run_on_both([&](const std::vector<Tensor>& in) { return index_select(in[0].transpose(0, 2), dim, idx); },
                    {randn({4, 5, 6}, dt)}, 0.0);
      }
    }
#endif
  }

  TEST_CASE("cuda gather matches the CPU bit for bit on every dim and strided input") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(63);
    for (DType dt : {DType::f32, DType::f64}) {
      for (int64_t dim : {0, 1, 2}) {
        INFO(dtype_name(dt) << " dim=" << dim);
        // x seen as [6, 5, 4] through a transpose; index smaller in the other dims, with
        // repeated picks; the index on the GPU too.
        Shape index_shape{3, 4, 2};
        index_shape[size_t(dim)] = 7;
        Generator gen{uint64_t(11 + dim), 0};
        const int64_t size_d = Shape{6, 5, 4}[size_t(dim)];
        const Tensor index = randint(0, size_d, index_shape, DType::i64, gen).to(Device::cuda);
        run_on_both([&](const std::vector<Tensor>& in) { return gather(in[0].transpose(0, 2), dim, index); },
                    {randn({4, 5, 6}, dt)}, 0.0);
      }
    }
#endif
  }

  TEST_CASE("cuda embedding rejects an id out of range") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor w = randn({5, 3}).to(Device::cuda);
    Tensor ids = from_vector({1, 5}, {2}, DType::i64, Device::cuda);
    CHECK_THROWS_WITH_AS(embedding(w, ids), doctest::Contains("value 5 at position 1 is out of range"), Error);
#endif
  }
}
