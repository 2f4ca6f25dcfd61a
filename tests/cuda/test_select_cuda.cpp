// where and masked_fill on the GPU (ops/select/where.cu) against the CPU op, forward and
// backward, f32 and f64: broadcasting of all three operands, i32 / i64 / float conditions
// (NaN counts as true), strided operands, a causal mask broadcast over heads; then a
// condition on the wrong device. Values are selected, so they match exactly; the gradient
// of a broadcast operand is a sum (ops::sum_to), compared to rounding.
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/select/where.h"

using namespace hqlt;
using hqlt::testing::run_on_both;

namespace {

// 0/1 values of `dtype` (NaN in place of some ones when the dtype is a float).
Tensor condition(const Shape& shape, DType dtype) {
  Tensor c = randint(0, 2, shape, DType::i64);
  std::vector<double> v = c.to_vector();
  if (is_floating(dtype))
    for (size_t i = 0; i < v.size(); i += 3) v[i] = v[i] != 0 ? NAN : 0.0;
  return from_vector(v, shape, dtype);
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda where matches the CPU with broadcasting") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(91);
    struct Case {
      Shape cond, a, b;
    };
    const Case cases[] = {{{3, 4}, {3, 4}, {3, 4}}, {{4, 1}, {1, 5}, {4, 5}}, {{2, 1, 5}, {3, 1}, {1}},
                          {{1}, {2, 3}, {2, 3}},    {{0, 3}, {3}, {3}}};
    for (const Case& c : cases) {
      for (DType dt : {DType::f32, DType::f64}) {
        for (DType ct : {DType::i32, DType::i64, DType::f32, DType::f64}) {
          INFO(dtype_name(dt) << " cond " << dtype_name(ct) << " " << shape_str(c.cond) << " " << shape_str(c.a)
                              << " " << shape_str(c.b));
          Tensor cond = condition(c.cond, ct);
          Tensor cond_gpu = cond.to(Device::cuda);
          run_on_both(
              [&](const std::vector<Tensor>& in) {
                return where(in[0].device() == Device::cuda ? cond_gpu : cond, in[0], in[1]);
              },
              {randn(c.a, dt), randn(c.b, dt)}, hqlt::testing::tol_for(dt));
        }
      }
    }
    // Strided operands: transposed views.
    Tensor cond = condition({5, 4}, DType::i64), cond_gpu = cond.to(Device::cuda);
    run_on_both(
        [&](const std::vector<Tensor>& in) {
          const Tensor& k = in[0].device() == Device::cuda ? cond_gpu : cond;
          return where(k.transpose(0, 1), in[0].transpose(0, 1), in[1]);
        },
        {randn({5, 4}), randn({4, 5})}, 0.0);
#endif
  }

  TEST_CASE("cuda masked_fill matches the CPU") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    manual_seed(92);
    // A causal mask [T, T] over scores [B, H, T, T], and a size-1-dims float mask.
    Tensor causal = from_vector({0, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 3}, DType::i64);
    Tensor fmask = condition({2, 1, 3}, DType::f32);
    for (DType dt : {DType::f32, DType::f64}) {
      INFO(dtype_name(dt));
      for (const auto& [mask, shape] : {std::pair{causal, Shape{2, 2, 3, 3}}, std::pair{fmask, Shape{2, 4, 3}}}) {
        Tensor mask_gpu = mask.to(Device::cuda);
        run_on_both(
            [&](const std::vector<Tensor>& in) {
              return masked_fill(in[0], in[0].device() == Device::cuda ? mask_gpu : mask, -1e9);
            },
            {randn(shape, dt)}, 0.0);
      }
    }
#endif
  }

  TEST_CASE("cuda where rejects a condition on another device") {
    HQLT_SKIP_WITHOUT_GPU();
#ifdef HQLT_HAS_CUDA
    Tensor a = randn({2, 3}).to(Device::cuda);
    CHECK_THROWS_WITH_AS(where(ones({2, 3}, DType::i32), a, a),
                         doctest::Contains("argument 'cond': expected device cuda"), Error);
    CHECK_THROWS_WITH_AS(masked_fill(a, ones({2, 3}, DType::i32), 0.0),
                         doctest::Contains("argument 'mask': expected device cuda"), Error);
#endif
  }
}
