// The tape: accumulation, shared subexpressions, NoGrad, detach, freeing, and the errors
// a user meets (backward twice, non-scalar without gradient, nothing requires grad).
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"

using namespace hqlt;

namespace {
Tensor param(std::vector<double> v) {
  Tensor t = from_vector(v, {int64_t(v.size())}, DType::f64);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("a hand-computed gradient through a shared subexpression") {
    // f(x) = Σ (x*x + x*x*x); df/dx = 2x + 3x².
    Tensor x = param({1, -2, 0.5});
    Tensor sq = x * x;
    sum(sq + sq * x).backward();
    std::vector<double> g = x.grad().to_vector();
    CHECK(g[0] == doctest::Approx(2 + 3));
    CHECK(g[1] == doctest::Approx(-4 + 12));
    CHECK(g[2] == doctest::Approx(1 + 0.75));
  }
  TEST_CASE("gradients accumulate across backward calls until zeroed") {
    Tensor x = param({1, 2});
    sum(x * 3.0).backward();
    sum(x * 3.0).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{6, 6});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    sum(x).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{1, 1});
  }
  TEST_CASE("backward with an explicit gradient") {
    Tensor x = param({1, 2, 3});
    (x * x).backward(from_vector({1, 0, 2}, {3}, DType::f64));
    CHECK(x.grad().to_vector() == std::vector<double>{2, 0, 12});
  }
  TEST_CASE("NoGrad records nothing and detach cuts the graph") {
    Tensor x = param({1, 2});
    {
      NoGrad no_grad;
      Tensor y = x * 2.0;
      CHECK_FALSE(y.requires_grad());
    }
    CHECK(grad_mode_enabled());
    Tensor y = (x * 2.0).detach();
    CHECK_FALSE(y.requires_grad());
    Tensor z = sum(x * y);  // y is a constant here
    z.backward();
    CHECK(x.grad().to_vector() == std::vector<double>{2, 4});
  }
  TEST_CASE("a graph nobody holds is freed - backward frees what it saved") {
    Tensor x = param({1, 2, 3});
    size_t before = autograd::tape_size();
    { Tensor unused = exp(x * x); }
    CHECK(autograd::tape_size() == before);
    Tensor loss = sum(exp(x * x));
    CHECK(autograd::tape_size() == before + 3);
    loss.backward();
    CHECK(autograd::tape_size() == before);
  }
  TEST_CASE("an unused output branch does not block the sweep") {
    Tensor x = param({1, 2});
    Tensor a = x * 2.0;
    Tensor b = exp(x);  // recorded after a, never used by the loss
    sum(a).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{2, 2});
    (void)b;
  }
  TEST_CASE("autograd bad input") {
    Tensor x = param({1, 2});
    Tensor loss = sum(x * x);
    loss.backward();
    CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already back-propagated"), Error);
    CHECK_THROWS_WITH_AS((x * x).backward(), doctest::Contains("needs an explicit gradient"), Error);
    CHECK_THROWS_WITH_AS(sum(zeros({2})).backward(), doctest::Contains("does not require grad"), Error);
    CHECK_THROWS_WITH_AS((x * x).backward(zeros({3}, DType::f64)), doctest::Contains("gradient shape"), Error);
    Tensor y = x * 2.0;
    CHECK_THROWS_WITH_AS(y.set_requires_grad(false), doctest::Contains("only leaf tensors"), Error);
  }
}
