// The vectorisable float exp and sigmoid of ops/kernel_math.h against the C library in
// double precision, over the whole range the kernels feed them, plus the edge values.
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
  }

  TEST_CASE("sigmoid matches 1 over 1 plus exp(-x) to 3e-7 relative without overflow") {
    double worst = 0;
    for (int i = -200000; i <= 200000; ++i) {
      const float x = 85.0f * float(i) / 200000.0f;  // below −87 σ is under f32's normal range
      const double want = 1.0 / (1.0 + std::exp(-double(x)));
      worst = std::max(worst, std::abs(double(kernels::sigmoid(x)) - want) / want);
    }
    CHECK(worst < 3e-7);
    CHECK(kernels::sigmoid(0.0f) == 0.5f);
    CHECK(kernels::sigmoid(-100.0f) == 0.0f);  // as 1 / (1 + e^100) in float: e^100 overflows
    CHECK(kernels::sigmoid(100.0f) == 1.0f);
    CHECK(kernels::sigmoid(std::numeric_limits<float>::infinity()) == 1.0f);
    CHECK(kernels::sigmoid(-std::numeric_limits<float>::infinity()) == 0.0f);
    CHECK(std::isnan(kernels::sigmoid(std::numeric_limits<float>::quiet_NaN())));
    CHECK(kernels::sigmoid(2.5) == 1.0 / (1.0 + std::exp(-2.5)));  // double: the library's exp
  }
}
