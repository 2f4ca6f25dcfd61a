// The counter-based RNG: reproducible, independent of how work is split, and with the
// right first two moments.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/rng.h"
#include "engine/parallel.h"
#include "threads.h"

using namespace hqlt;

TEST_SUITE("unit") {
  TEST_CASE("philox matches the published known-answer vector") {
    // Random123's kat_vectors: philox4x32_10 with counter 0 and key 0.
    auto w = philox(0, 0);
    CHECK(w[0] == 0x6627e8d5u);
    CHECK(w[1] == 0xe169c58du);
    CHECK(w[2] == 0xbc57ac4cu);
    CHECK(w[3] == 0x9b00dbd8u);
  }
  TEST_CASE("same seed - same numbers - one long draw equals the elementwise formula") {
    Generator a{42, 0}, b{42, 0};
    Tensor x = randn({1000}, DType::f64, Device::cpu, 0, 1, a);
    Tensor y = randn({1000}, DType::f64, Device::cpu, 0, 1, b);
    CHECK(x.to_vector() == y.to_vector());
    std::vector<double> v = x.to_vector();
    for (uint64_t i : {0u, 1u, 500u, 999u}) CHECK(v[i] == normal_at(42, 0, i));
    // The offset advanced by ceil(1000/2) counters: the next draw does not repeat.
    CHECK(a.offset == 500);
    Tensor z = randn({4}, DType::f64, Device::cpu, 0, 1, a);
    CHECK(z.to_vector()[0] == normal_at(42, 500, 0));
  }
  TEST_CASE("numbers do not depend on the thread count") {
    const auto draw = [] {
      Generator g{7, 0};
      return rand({1 << 16}, DType::f64, Device::cpu, 0, 1, g).to_vector();
    };
    CHECK(hqlt::testing::with_threads(1, draw) == hqlt::testing::with_threads(2, draw));
  }
  TEST_CASE("moments of randn and range of rand and randint") {
    Generator g{1, 0};
    std::vector<double> v = randn({100000}, DType::f64, Device::cpu, 2.0, 3.0, g).to_vector();
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    for (double x : v) s += (x - m) * (x - m);
    s = std::sqrt(s / double(v.size()));
    CHECK(m == doctest::Approx(2.0).epsilon(0.02));
    CHECK(s == doctest::Approx(3.0).epsilon(0.02));
    for (double u : rand({10000}, DType::f32, Device::cpu, -1, 1, g).to_vector()) {
      CHECK(u >= -1);
      CHECK(u < 1);
    }
    std::vector<int> counts(5, 0);
    for (double k : randint(3, 8, {10000}, DType::i64, g).to_vector()) counts[size_t(k - 3)]++;
    for (int c : counts) CHECK(c == doctest::Approx(2000).epsilon(0.1));
  }
}
