// The moving average of the weights by hand: a ← d·a + (1 − d)·w on every pair, in place,
// with numbers exact in binary so the results are compared for equality.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "nn/weight_average.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("nn::update_average by hand") {
    for (DType dtype : {DType::f32, DType::f64}) {
      Tensor a = from_vector({1, 2, -4}, {3}, dtype), b = from_vector({8}, {1}, dtype);
      Tensor w = from_vector({5, 2, 0}, {3}, dtype), v = from_vector({0}, {1}, dtype);
      w.set_requires_grad(true);  // a parameter: the update must not touch the tape
      nn::update_average({a, b}, {w, v}, 0.75);
      // 0.75·1 + 0.25·5 = 2; 0.75·2 + 0.25·2 = 2; 0.75·(−4) + 0 = −3; 0.75·8 = 6.
      CHECK(a.to_vector() == std::vector<double>{2, 2, -3});
      CHECK(b.to_vector() == std::vector<double>{6});
      CHECK(w.to_vector() == std::vector<double>{5, 2, 0});  // the weights are only read
      nn::update_average({a, b}, {w, v}, 0.5);
      CHECK(a.to_vector() == std::vector<double>{3.5, 2, -1.5});
      CHECK(b.to_vector() == std::vector<double>{3});
      nn::update_average({a}, {w}, 0);  // decay 0: the average is the weights
      CHECK(a.to_vector() == std::vector<double>{5, 2, 0});
    }
  }

  TEST_CASE("nn::update_average refuses what it cannot average") {
    Tensor a = zeros({3}), w = zeros({3});
    CHECK_THROWS_WITH_AS(nn::update_average({a}, {w}, 1.0), doctest::Contains("decay must be in [0, 1)"), Error);
    CHECK_THROWS_WITH_AS(nn::update_average({a}, {w}, -0.1), doctest::Contains("decay must be in [0, 1)"), Error);
    CHECK_THROWS_WITH_AS(nn::update_average({a}, {}, 0.5), doctest::Contains("1 averages for 0 weights"), Error);
    CHECK_THROWS_WITH_AS(nn::update_average({a}, {zeros({4})}, 0.5), doctest::Contains("differ in shape"), Error);
    CHECK_THROWS_WITH_AS(nn::update_average({a}, {zeros({3}, DType::f64)}, 0.5), doctest::Contains("differ in shape"),
                         Error);
  }
}
