// engine/device.h: what the layers above the engine know about the GPU.
#include <doctest/doctest.h>

#include "engine/device.h"
#include "engine/error.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("the device queries agree with the build and the machine") {
#ifdef HQLT_HAS_CUDA
    CHECK(cuda_built());
#else
    CHECK_FALSE(cuda_built());
    CHECK_THROWS_WITH_AS(require_cuda(), doctest::Contains("built without CUDA"), Error);
#endif
    if (cuda_available()) {
      CHECK(cuda_built());
      CHECK_NOTHROW(require_cuda());
      CHECK_NOTHROW(synchronize(Device::cuda));
    } else {
      CHECK_THROWS_WITH_AS(require_cuda(), doctest::Contains("use --device cpu"), Error);
    }
    CHECK_NOTHROW(synchronize(Device::cpu));
  }
}
