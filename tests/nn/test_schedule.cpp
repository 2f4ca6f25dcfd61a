// Learning-rate schedules at hand-checked steps: warm-up from 0, cosine and linear decay
// to the floor, the floor afterwards, the shifted (torchtitan) counting, constant, and
// bad settings.
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <numbers>

#include "engine/error.h"
#include "nn/schedule.h"

using namespace hqlt::nn;
using hqlt::Error;

TEST_SUITE("unit") {
  TEST_CASE("nn::Schedule plain counting (LinearWarmupCosineAnnealing)") {
    // peak 1e-3, floor 1e-6, warm-up 10 steps, floor reached at step 110.
    Schedule s{1e-3, 1e-6, 10, 110, Decay::cosine, Counting::plain};
    CHECK(s.lr(0) == 0.0);  // the first update uses lr = 0
    CHECK(s.lr(5) == doctest::Approx(5e-4));
    CHECK(s.lr(10) == doctest::Approx(1e-3));
    CHECK(s.lr(60) == doctest::Approx(1e-6 + 0.5 * (1e-3 - 1e-6)));  // halfway: cos(π/2) = 0
    CHECK(s.lr(35) == doctest::Approx(1e-6 + 0.5 * (1 + std::cos(std::numbers::pi / 4)) * (1e-3 - 1e-6)));
    CHECK(s.lr(110) == 1e-6);
    CHECK(s.lr(5000) == 1e-6);

    s.decay = Decay::linear;
    CHECK(s.lr(35) == doctest::Approx(1e-6 + 0.75 * (1e-3 - 1e-6)));
    CHECK(s.lr(109) == doctest::Approx(1e-6 + 0.01 * (1e-3 - 1e-6)));
    CHECK(s.lr(110) == 1e-6);

    s.decay = Decay::constant;  // warm up, then hold the peak
    CHECK(s.lr(3) == doctest::Approx(3e-4));
    CHECK(s.lr(10) == 1e-3);
    CHECK(s.lr(100000) == 1e-3);
  }

  TEST_CASE("nn::Schedule shifted counting (torchtitan warm-up and cosine decay)") {
    // peak 1, floor 0.1, W = 4 warm-up steps, S = 20 total steps.
    Schedule s{1.0, 0.1, 4, 20, Decay::cosine, Counting::shifted};
    CHECK(s.lr(0) == doctest::Approx(1.0 / 5));
    CHECK(s.lr(3) == doctest::Approx(4.0 / 5));
    // k = 4: p = (4 + 1 - 4) / (20 - 4 + 1) = 1/17.
    CHECK(s.lr(4) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 17))));
    // k = 19 (the last step): p = 16/17.
    CHECK(s.lr(19) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 16 / 17))));
    CHECK(s.lr(40) == doctest::Approx(0.1));  // past the end, p is held at 1
  }

  TEST_CASE("nn::Schedule constant and bad settings") {
    Schedule c = constant_schedule(3e-4);
    for (int64_t k : {0, 1, 1000}) CHECK(c.lr(k) == 3e-4);
    Schedule bad{1e-3, 0, 10, 5};
    CHECK_THROWS_WITH_AS(bad.lr(0), doctest::Contains("decay_end (5) must be >= warmup_steps (10)"), Error);
    Schedule negative{-1e-3};
    CHECK_THROWS_WITH_AS(negative.lr(0), doctest::Contains("learning rates must be >= 0"), Error);
    CHECK_THROWS_WITH_AS(c.lr(-1), doctest::Contains("the step must be >= 0"), Error);
  }
}
