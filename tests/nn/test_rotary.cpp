// RotaryEmbedding: a thin module over ops/rope — same values as the op, the
// rotate-half pairing checked by hand at one position, no parameters, bad inputs.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/rng.h"
#include "nn/rotary.h"
#include "ops/rope/rope.h"

using namespace hqlt;
using namespace hqlt::nn;

TEST_SUITE("unit") {
  TEST_CASE("nn::RotaryEmbedding rotates halves with absolute positions") {
    RotaryEmbedding rot(4, 10000.0);
    CHECK(rot.num_parameters() == 0);
    Tensor x = randn({1, 3, 2, 4}, DType::f64);
    CHECK(rot.forward(x).to_vector() == rope(x, 10000.0, 0).to_vector());
    CHECK(rot.forward(x, 5).to_vector() == rope(x, 10000.0, 5).to_vector());
    // Position 2, head 1, pair (i=1, i+m=3): ω_1 = 10000^(-2/4) = 0.01, φ = 0.02 (the op
    // computes angles in f32, as the reference does, hence the tolerance).
    std::vector<double> xv = x.to_vector(), y = rot.forward(x).to_vector();
    auto at = [](int64_t t, int64_t h, int64_t i) { return size_t((t * 2 + h) * 4 + i); };
    double c = std::cos(0.02), s = std::sin(0.02);
    CHECK(y[at(2, 1, 1)] == doctest::Approx(xv[at(2, 1, 1)] * c - xv[at(2, 1, 3)] * s).epsilon(1e-6));
    CHECK(y[at(2, 1, 3)] == doctest::Approx(xv[at(2, 1, 3)] * c + xv[at(2, 1, 1)] * s).epsilon(1e-6));
  }

  TEST_CASE("nn::RotaryEmbedding bad inputs") {
    RotaryEmbedding rot(4);
    CHECK_THROWS_WITH_AS(rot.forward(randn({1, 3, 2, 6})), doctest::Contains("expected [B, T, H, 4]"), Error);
    CHECK_THROWS_WITH_AS(rot.forward(randn({3, 4})), doctest::Contains("expected [B, T, H, 4]"), Error);
    CHECK_THROWS_WITH_AS(rot.forward(randn({1, 3, 2, 4}), -1), doctest::Contains("position_offset"), Error);
    CHECK_THROWS_WITH_AS(RotaryEmbedding(5), doctest::Contains("even head dim"), Error);
  }
}
