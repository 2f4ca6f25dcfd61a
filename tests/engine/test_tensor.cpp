// Tensors: creation, dtypes, views over shared storage, copies, printing, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/rng.h"
#include "engine/tensor.h"
#ifdef HQLT_HAS_CUDA
#include "engine/cuda/runtime.h"
#endif
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/views.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("creation fills the right values in every dtype") {
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
      CAPTURE(dtype_name(dt));
      Tensor z = zeros({2, 3}, dt), o = ones({2, 3}, dt), f = full({4}, 7, dt);
      CHECK(z.dtype() == dt);
      CHECK(z.to_vector() == std::vector<double>(6, 0.0));
      CHECK(o.to_vector() == std::vector<double>(6, 1.0));
      CHECK(f.to_vector() == std::vector<double>(4, 7.0));
      CHECK(z.is_contiguous());
      CHECK(z.strides() == Strides{3, 1});
    }
    CHECK(arange(2, 11, 3).to_vector() == std::vector<double>{2, 5, 8});
    CHECK(arange(5, 0, -2).to_vector() == std::vector<double>{5, 3, 1});
    CHECK(arange(0, 0).numel() == 0);
    CHECK(from_vector({1.5, 2.5}, {2}, DType::i32).to_vector() == std::vector<double>{1, 2});
    CHECK(zeros({}).numel() == 1);
    CHECK(zeros({3, 0}).numel() == 0);
  }
  TEST_CASE("data pointers are 64-byte aligned") {
    for (int64_t n : {1, 3, 17, 1000, 100000}) {
      Tensor t = empty({n});
      CHECK(reinterpret_cast<uintptr_t>(t.data<float>()) % 64 == 0);
    }
  }
  TEST_CASE("item - to_vector and copies across dtypes") {
    Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
    CHECK(as_strided(x, {}, {}, 4).item() == 5);
    Tensor y = empty({2, 3}, DType::f32);
    copy_into(y, x);
    CHECK(y.to_vector() == x.to_vector());
    Tensor xt = as_strided(x, {3, 2}, {1, 3}, 0);  // the transpose, by hand
    CHECK(clone_contiguous(xt).to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
    fill(xt, 9);
    CHECK(x.to_vector() == std::vector<double>(6, 9.0));
  }
  TEST_CASE("count_non_finite counts NaN and infinities in any dtype and layout") {
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> values{1.0, std::nan(""), -inf, 0.0, inf, -2.5};
    for (DType dt : {DType::f32, DType::f64}) {
      const Tensor t = from_vector(values, {2, 3}, dt);
      CHECK(count_non_finite(t) == 3);
      // Column 2 of the [2, 3] tensor, a strided view: −inf and −2.5.
      CHECK(count_non_finite(as_strided(t, {2}, {3}, 2)) == 1);
      CHECK(count_non_finite(zeros({4}, dt)) == 0);
    }
    CHECK(count_non_finite(zeros({4}, DType::i64)) == 0);
  }

  TEST_CASE("printing shows shape - dtype and elided values") {
    std::string s = arange(0, 100, 1, DType::f32).reshape({10, 10}).to_string();
    CHECK(s.find("shape=[10, 10]") != std::string::npos);
    CHECK(s.find("dtype=f32") != std::string::npos);
    CHECK(s.find("...") != std::string::npos);
    CHECK(s.find("99") != std::string::npos);
    CHECK(Tensor().to_string() == "Tensor(undefined)");
  }
  TEST_CASE("tensor bad input") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(x.data<double>(), doctest::Contains("has dtype f32, asked for f64"), Error);
    CHECK_THROWS_WITH_AS(x.item(), doctest::Contains("one element"), Error);
    CHECK_THROWS_WITH_AS(from_vector({1, 2, 3}, {2, 2}), doctest::Contains("do not fill"), Error);
    CHECK_THROWS_WITH_AS(as_strided(x, {3, 3}, {3, 1}, 0), doctest::Contains("outside its storage"), Error);
    CHECK_THROWS_WITH_AS(empty({-1}), doctest::Contains("negative size"), Error);
    CHECK_THROWS_WITH_AS(zeros({2}, DType::i64).set_requires_grad(true), doctest::Contains("float"), Error);
    CHECK_THROWS_WITH_AS(x.size(2), doctest::Contains("out of range"), Error);
#ifndef HQLT_HAS_CUDA
    CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, Device::cuda), doctest::Contains("without CUDA"), Error);
#else
    // A CUDA build on a machine without a GPU runs the CPU engine and says so here.
    if (cuda::device_count() == 0)
      CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, Device::cuda), doctest::Contains("no CUDA GPU is available"), Error);
#endif
  }
  TEST_CASE("mixed devices are refused by name") {
    // Empty tensors own no memory, so a cuda one exists even without a GPU.
    Tensor on_cpu = empty({0, 3}), on_cuda = empty({0, 3}, DType::f32, Device::cuda);
    CHECK(on_cuda.device() == Device::cuda);
    CHECK_THROWS_WITH_AS(add(on_cpu, on_cuda), doctest::Contains("expected device cpu (as 'a'), got cuda"), Error);
    CHECK_THROWS_WITH_AS(matmul(on_cpu, on_cuda.reshape({3, 0})), doctest::Contains("expected device cpu"), Error);
  }
}
