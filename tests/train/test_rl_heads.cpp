// The agent's heads (train/rl/heads.h): the MLP's layout and forward against plain loops,
// the reference's initialisation ranges, and the soft update of the target critics.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "ops/elementwise/elementwise.h"
#include "train/rl/heads.h"

using namespace hqlt;
using namespace hqlt::train::rl;

TEST_SUITE("unit") {
  TEST_CASE("the heads' MLP computes relu layers by the plain loop and starts in the reference's ranges") {
    Generator gen{3, 0};
    Mlp mlp(5, 16, 4, 3e-3, gen);
    const auto params = mlp.named_parameters();
    REQUIRE(params.size() == 6);
    CHECK(params[0].first == "0.weight");
    CHECK(params[5].first == "2.bias");
    const auto max_abs = [](const Tensor& t) {
      double m = 0;
      for (double v : t.to_vector()) m = std::max(m, std::abs(v));
      return m;
    };
    CHECK(max_abs(mlp.parameter("0.weight")) <= 1 / std::sqrt(16.0));  // the output width
    CHECK(max_abs(mlp.parameter("0.weight")) > 0.15);
    for (double b : mlp.parameter("1.bias").to_vector()) CHECK(b == doctest::Approx(0.1));
    CHECK(max_abs(mlp.parameter("2.weight")) <= 3e-3);
    CHECK(max_abs(mlp.parameter("2.bias")) <= 3e-3);

    // forward against the loops, on two inputs at once.
    const Tensor x = randn({2, 5});
    const std::vector<double> got = mlp.forward(x).to_vector(), xs = x.to_vector();
    std::vector<double> h = xs;
    int64_t width = 5;
    for (const char* layer : {"0", "1", "2"}) {
      const std::vector<double> w = mlp.parameter(std::string(layer) + ".weight").to_vector(),
                                b = mlp.parameter(std::string(layer) + ".bias").to_vector();
      const int64_t out = int64_t(b.size());
      std::vector<double> next(size_t(2 * out));
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t o = 0; o < out; ++o) {
          double acc = b[size_t(o)];
          for (int64_t i = 0; i < width; ++i) acc += w[size_t(o * width + i)] * h[size_t(r * width + i)];
          next[size_t(r * out + o)] = std::string(layer) == "2" ? acc : std::max(acc, 0.0);
        }
      h = next, width = out;
    }
    REQUIRE(got.size() == h.size());
    for (size_t i = 0; i < h.size(); ++i) CHECK(got[i] == doctest::Approx(h[i]).epsilon(1e-5));
  }

  TEST_CASE("soft_update moves the target by tau towards the source") {
    Generator gen_a{1, 0}, gen_b{2, 0};
    Mlp target(3, 4, 2, 3e-3, gen_a), source(3, 4, 2, 3e-3, gen_b);
    const Tensor& slot = target.parameter("1.weight");  // the same tensor before and after
    const std::vector<double> t0 = slot.to_vector(), s0 = source.parameter("1.weight").to_vector();
    soft_update(target, source, 0.25);
    const std::vector<double> t1 = target.parameter("1.weight").to_vector();
    for (size_t i = 0; i < t0.size(); ++i) CHECK(t1[i] == doctest::Approx(0.75 * t0[i] + 0.25 * s0[i]).epsilon(1e-6));
    CHECK(&slot == &target.parameter("1.weight"));
    soft_update(target, source, 1.0);
    CHECK(target.parameter("2.bias").to_vector() == source.parameter("2.bias").to_vector());
    Mlp other(3, 5, 2, 3e-3, gen_a);
    CHECK_THROWS_WITH_AS(soft_update(target, other, 0.5), doctest::Contains("soft_update: parameter"), Error);
    CHECK_THROWS_WITH_AS(soft_update(target, source, 1.5), doctest::Contains("tau"), Error);
  }
}
