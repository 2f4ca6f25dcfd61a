// The vectorisable float exp and sigmoid of ops/kernel_math.h against the C library in
// double precision, over the whole range they are fed, plus the edge values.
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

  TEST_CASE("sigmoid matches the double formula to 4e-7 relative on both tails") {
    double worst = 0;
    for (int i = -200000; i <= 200000; ++i) {
      const float x = 100.0f * float(i) / 200000.0f;  // [-100, 100]: both tails, past -87
      const double want = 1 / (1 + std::exp(-double(x)));
      if (want < 1e-37) {
        CHECK(kernels::sigmoid(x) >= 0.0f);  // below f32's normal range: 0 or a tiny value
        continue;
      }
      worst = std::max(worst, std::abs(double(kernels::sigmoid(x)) - want) / want);
    }
    CHECK(worst < 4e-7);
    CHECK(kernels::sigmoid(0.0f) == 0.5f);
    CHECK(kernels::sigmoid(std::numeric_limits<float>::infinity()) == 1.0f);
    CHECK(kernels::sigmoid(-std::numeric_limits<float>::infinity()) == 0.0f);
    CHECK(std::isnan(kernels::sigmoid(std::numeric_limits<float>::quiet_NaN())));
    CHECK(kernels::sigmoid(-2.5) == 1 / (1 + std::exp(2.5)));  // double: the plain formula
  }
}
