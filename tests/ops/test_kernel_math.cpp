// The vectorisable float exp of ops/kernel_math.h against the C library in double
// precision, over the whole range the fused kernels feed it, plus the edge values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "ops/kernel_math.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("exp_nonpositive matches exp to 2e-7 relative and flushes below -87 to zero") {
    double worst = 0;
    for (int i = 0; i <= 200000; ++i) {
      const float x = -87.0f * float(i) / 200000.0f;
      const double want = std::exp(double(x));
      worst = std::max(worst, std::abs(double(kernels::exp_nonpositive(x)) - want) / want);
    }
    CHECK(worst < 2e-7);
    CHECK(kernels::exp_nonpositive(0.0f) == 1.0f);
    CHECK(kernels::exp_nonpositive(-88.0f) == 0.0f);
    CHECK(kernels::exp_nonpositive(-std::numeric_limits<float>::infinity()) == 0.0f);
    CHECK(kernels::exp_nonpositive(-2.5) == std::exp(-2.5));  // double: the library's exp
  }
}
