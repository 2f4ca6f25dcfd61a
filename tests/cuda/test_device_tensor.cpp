// Device tensors: copies between host and GPU, views, the cuda allocator pool, and the
// errors a CUDA build gives (no GPU; a failing CUDA or cuBLAS call).
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "cuda_test_utils.h"
#include "engine/allocator.h"
#include "engine/rng.h"
#include "engine/tensor.h"

#ifdef HQLT_HAS_CUDA
#include "engine/cuda/blas.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#endif

using namespace hqlt;

TEST_SUITE("cuda") {
  TEST_CASE("cuda allocation fails with a clear message without a GPU and works with one") {
#ifdef HQLT_HAS_CUDA
    if (cuda::device_count() > 0) {
      CHECK_NOTHROW(cuda::require_device());
      CHECK(empty({4}, DType::f32, Device::cuda).device() == Device::cuda);
      return;
    }
    CHECK_THROWS_WITH_AS(empty({4}, DType::f32, Device::cuda), doctest::Contains("no CUDA GPU is available"), Error);
    CHECK_THROWS_WITH_AS(cuda::require_device(), doctest::Contains("use --device cpu"), Error);
#else
    CHECK_THROWS_WITH_AS(empty({4}, DType::f32, Device::cuda), doctest::Contains("built without CUDA"), Error);
#endif
    // An empty tensor owns no memory, so it exists on cuda with or without a GPU.
    CHECK(empty({0, 3}, DType::f32, Device::cuda).numel() == 0);
  }

  TEST_CASE("a failing CUDA or cuBLAS call becomes an hqlt::Error naming the call") {
#ifdef HQLT_HAS_CUDA
    // The status values are passed in directly: no GPU is needed to turn them into messages.
    CHECK_THROWS_WITH_AS(HQLT_CUDA_CHECK(cudaErrorInvalidValue),
                         doctest::Contains("cuda: cudaErrorInvalidValue failed ("), Error);
    CHECK_THROWS_WITH_AS(HQLT_CUDA_CHECK(cudaErrorMemoryAllocation), doctest::Contains(": out of memory"), Error);
    CHECK_THROWS_WITH_AS(HQLT_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED),
                         doctest::Contains("cublas: CUBLAS_STATUS_NOT_INITIALIZED failed"), Error);
    CHECK_THROWS_WITH_AS(HQLT_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE),
                         doctest::Contains("test_device_tensor.cpp:"), Error);
    CHECK_NOTHROW(HQLT_CUDA_CHECK(cudaSuccess));
    CHECK_NOTHROW(HQLT_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
    // TF32 is an explicit opt-in (engine/cuda/blas.h).
    CHECK_FALSE(cuda::allow_tf32());
#else
    HQLT_SKIP_WITHOUT_GPU();
#endif
  }

  TEST_CASE("host to device to host round trip keeps every value") {
    HQLT_SKIP_WITHOUT_GPU();
    const std::vector<double> values{0.0, -1.5, 3.25, 1e-30, -7e20, 123456.789, 0.1, 2.0};
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor host = from_vector(values, {2, 4}, dt);
      Tensor back = host.to(Device::cuda).to(Device::cpu);
      CHECK(back.device() == Device::cpu);
      CHECK(back.shape() == Shape{2, 4});
      CHECK(back.to_vector() == host.to_vector());  // bit-identical, not merely close
    }
    // i64 beyond 2^53 (not representable as double) to catch any float detour.
    Tensor ints = empty({3}, DType::i64);
    ints.data<int64_t>()[0] = (int64_t(1) << 60) + 1;
    ints.data<int64_t>()[1] = -42;
    ints.data<int64_t>()[2] = INT64_MIN + 7;
    Tensor ints_back = ints.to(Device::cuda).to(Device::cpu);
    for (int i = 0; i < 3; ++i) CHECK(ints_back.data<int64_t>()[i] == ints.data<int64_t>()[i]);
  }

  TEST_CASE("to on non-contiguous views in both directions") {
    HQLT_SKIP_WITHOUT_GPU();
    Tensor x = arange(0, 24, 1, DType::f32).reshape({2, 3, 4});
    // Host view -> device.
    Tensor view = x.transpose(0, 2).slice(1, 1, 3);  // [4, 2, 2], non-contiguous
    REQUIRE_FALSE(view.is_contiguous());
    CHECK(view.to(Device::cuda).to(Device::cpu).to_vector() == view.to_vector());
    // Device view -> host (made contiguous by the strided copy kernel on the GPU).
    Tensor xd = x.to(Device::cuda);
    Tensor dview = xd.transpose(0, 2).slice(1, 1, 3);
    CHECK(dview.to(Device::cpu).to_vector() == view.to_vector());
    // Broadcast (stride 0) view, and a dtype cast on the device.
    Tensor row = arange(0, 4, 1, DType::f64).to(Device::cuda).unsqueeze(0).expand({3, 4});
    CHECK(row.to(Device::cpu).to_vector() == std::vector<double>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3});
    CHECK(dview.to(DType::f64).to(Device::cpu).to_vector() == view.to_vector());
    // fill on a strided device view writes only the view.
    Tensor z = zeros({2, 3}, DType::f32, Device::cuda);
    fill(z.slice(1, 0, 3, 2), 5.0);
    CHECK(z.to(Device::cpu).to_vector() == std::vector<double>{5, 0, 5, 5, 0, 5});
  }

  TEST_CASE("cuda allocator counts bytes in use and the peak") {
    HQLT_SKIP_WITHOUT_GPU();
    memory::empty_cache(Device::cuda);
    memory::reset_peak(Device::cuda);
    const memory::Stats before = memory::stats(Device::cuda);
    const size_t bytes = size_t(1) << 20;
    const size_t cls = memory::size_class(bytes);
    size_t system_after_first = 0;
    {
      Tensor a = empty({int64_t(bytes / 4)}, DType::f32, Device::cuda);
      const memory::Stats s = memory::stats(Device::cuda);
      CHECK(s.in_use == before.in_use + cls);
      CHECK(s.peak >= s.in_use);
      CHECK(s.system_allocations == before.system_allocations + 1);
      system_after_first = s.system_allocations;
    }
    const memory::Stats freed = memory::stats(Device::cuda);
    CHECK(freed.in_use == before.in_use);
    CHECK(freed.peak == before.in_use + cls);
    CHECK(freed.cached == cls);
    {
      // Same size again: served from the cache, no cudaMalloc.
      Tensor b = empty({int64_t(bytes / 4)}, DType::f32, Device::cuda);
      CHECK(memory::stats(Device::cuda).system_allocations == system_after_first);
      CHECK(memory::stats(Device::cuda).cached == 0);
    }
    memory::empty_cache(Device::cuda);
    CHECK(memory::stats(Device::cuda).cached == 0);
  }

  TEST_CASE("cuda random tensors hold the CPU's numbers for the same generator") {
    HQLT_SKIP_WITHOUT_GPU();
    // Drawn by the counter-based generator on the host and copied (engine/rng.cpp), so a
    // run gets the same initial weights and data on either device, bit for bit.
    for (DType dt : {DType::f32, DType::f64}) {
      Generator on_cpu{7, 3}, on_gpu{7, 3};
      Tensor a = randn({1001}, dt, Device::cpu, 0.0, 1.0, on_cpu), b = randn({1001}, dt, Device::cuda, 0.0, 1.0, on_gpu);
      CHECK(b.device() == Device::cuda);
      CHECK(b.to_vector() == a.to_vector());
      Tensor c = rand({77}, dt, Device::cpu, -1.0, 2.0, on_cpu), d = rand({77}, dt, Device::cuda, -1.0, 2.0, on_gpu);
      CHECK(d.to_vector() == c.to_vector());
      CHECK(on_gpu.offset == on_cpu.offset);
    }
  }
}
