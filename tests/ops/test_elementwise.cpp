// Elementwise ops, every line of elementwise_cases.h: gradients by finite differences in
// f64 on shapes that broadcast, have size-1 dims, or are non-contiguous; values against
// plain double math; and a check that the table covers every op elementwise_math.h defines.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>

#include "compare.h"
#include "engine/allocator.h"
#include "gradcheck.h"
#include "ops/elementwise_cases.h"
#include "ops/elementwise/elementwise_math.h"
#include "ops/reduce/reduce.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Each binary op on: equal shapes, broadcasting both ways with size-1 dims, a rank
// difference, and a non-contiguous (transposed) input.
void check_binary(const BinaryCase& c) {
  auto f = [&c](const Ts& x) { return c.f(x[0], x[1]); };
  auto b = [&](const Shape& s) { return leaf_uniform(s, c.b_lo, c.b_hi); };
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4}), b({3, 4})}));
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 5}), b({3, 5})}));
  if (!c.broadcasts) return;
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 1, 4}), b({1, 2, 4})}));
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 3, 4}), b({4})}));
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1}), b({2, 3})}));
}

void check_unary(const UnaryCase& c) {
  auto f = [&c](const Ts& x) { return c.f(x[0]); };
  HQLT_CHECK_GRADIENTS(f, (Ts{leaf_uniform({2, 3, 5}, c.lo, c.hi)}));
  Tensor t;
  {
    NoGrad ng;
    t = leaf_uniform({4, 3}, c.lo, c.hi).transpose(0, 1).detach();
  }
  t.set_requires_grad(true);
  HQLT_CHECK_GRADIENTS(f, (Ts{t}));
}

std::vector<double> evenly(double lo, double hi, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * (i + 0.5) / n);
  return v;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck every unary elementwise op") {
    for (const UnaryCase& c : kUnaryCases) {
      INFO(c.op << " on [" << c.lo << ", " << c.hi << "]");
      check_unary(c);
    }
  }
  TEST_CASE("gradcheck every binary elementwise op") {
    for (const BinaryCase& c : kBinaryCases) {
      INFO(c.op);
      check_binary(c);
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("elementwise values match plain double math in f64 and f32") {
    for (const UnaryCase& c : kUnaryCases) {
      INFO(c.op);
      const std::vector<double> xs = evenly(c.lo, c.hi, 9);
      std::vector<double> want;
      for (double x : xs) want.push_back(c.plain(x));
      expect_close(c.f(from_vector(xs, {9}, DType::f64)).to_vector(), want, 1e-15);
      expect_close(c.f(from_vector(xs, {9}, DType::f32)).to_vector(), want, 1e-6);
    }
    for (const BinaryCase& c : kBinaryCases) {
      INFO(c.op);
      const std::vector<double> as = evenly(-2, 2, 7), bs = evenly(c.b_lo, c.b_hi, 7);
      std::vector<double> want;
      for (size_t i = 0; i < as.size(); ++i) want.push_back(c.plain(as[i], bs[i]));
      expect_close(c.f(from_vector(as, {7}, DType::f64), from_vector(bs, {7}, DType::f64)).to_vector(), want, 1e-15);
      expect_close(c.f(from_vector(as, {7}, DType::f32), from_vector(bs, {7}, DType::f32)).to_vector(), want, 1e-6);
    }
  }
  TEST_CASE("minimum and maximum send the gradient to the chosen input and ties to a") {
    Tensor a = from_vector({1, 5, 3}, {3}, DType::f64), b = from_vector({2, 4, 3}, {3}, DType::f64);
    a.set_requires_grad(true), b.set_requires_grad(true);
    CHECK(minimum(a, b).to_vector() == std::vector<double>{1, 4, 3});
    sum(minimum(a, b)).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{1, 0, 1});
    CHECK(b.grad().to_vector() == std::vector<double>{0, 1, 0});
    a.zero_grad(), b.zero_grad();
    CHECK(maximum(a, b).to_vector() == std::vector<double>{2, 5, 3});
    sum(maximum(a, b)).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{0, 1, 1});
    CHECK(b.grad().to_vector() == std::vector<double>{1, 0, 0});
    Tensor x = from_vector({-1, 0.5, 2}, {3}, DType::f64);
    x.set_requires_grad(true);
    sum(clamp_min(x, 0.5)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 1});  // at the floor: no gradient
  }
  TEST_CASE("the elementwise test table names every op elementwise_math.h defines") {
    std::set<std::string> tested;
    for (const UnaryCase& c : kUnaryCases) tested.insert(c.op);
    for (const BinaryCase& c : kBinaryCases) tested.insert(c.op);
#define HQLT_EXPECT_TESTED(Op) CHECK_MESSAGE(tested.count(elementwise::Op::name), #Op " has no line in elementwise_cases.h");
    HQLT_UNARY_OPS(HQLT_EXPECT_TESTED)
    HQLT_BINARY_OPS(HQLT_EXPECT_TESTED)
#undef HQLT_EXPECT_TESTED
    // ... and names nothing else (a misspelt name would otherwise pass unnoticed).
    std::set<std::string> defined;
#define HQLT_NAME(Op) defined.insert(elementwise::Op::name);
    HQLT_UNARY_OPS(HQLT_NAME)
    HQLT_BINARY_OPS(HQLT_NAME)
#undef HQLT_NAME
    CHECK(tested == defined);
  }
  TEST_CASE("scalar add and scale and negation keep no tensor alive for the backward") {
    // t = silu(x) is kept by no one but the ops that read it (silu saves x, not t). Once its
    // handle is dropped, its memory goes back: an op whose derivative is a constant must
    // not hold it, and its gradient must still be right.
    for (auto op : {+[](const Tensor& t) { return t * 2.5; }, +[](const Tensor& t) { return t + 2.5; },
                    +[](const Tensor& t) { return -t; }}) {
      Tensor x = randn({256, 512}, DType::f64).set_requires_grad(true);
      Tensor y;
      size_t with_t = 0;
      {
        Tensor t = silu(x);
        y = op(t);
        with_t = memory::stats().in_use;
      }
      CHECK(with_t - memory::stats().in_use >= size_t(256 * 512 * 8));
      Tensor w = randn({256, 512}, DType::f64);
      sum(y * w).backward();
      // d/dx of op(silu(x)) = op'·silu'(x); op' from the value difference at two points.
      const double slope = (op(full({1}, 1.0, DType::f64)).item() - op(full({1}, 0.0, DType::f64)).item());
      Tensor want;
      {
        NoGrad ng;
        Tensor s = sigmoid(x.detach());
        want = w * (s * (1.0 + x.detach() * (1.0 - s))) * slope;
      }
      expect_close(x.grad(), want, 1e-14);
    }
  }
  TEST_CASE("broadcast add by hand") {
    Tensor a = from_vector({1, 2, 3}, {3, 1});
    Tensor b = from_vector({10, 20}, {1, 2});
    CHECK(add(a, b).shape() == Shape{3, 2});
    CHECK(add(a, b).to_vector() == std::vector<double>{11, 21, 12, 22, 13, 23});
  }
  TEST_CASE("elementwise bad input") {
    Tensor a = zeros({3, 2}), b = zeros({4, 2});
    CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("cannot be broadcast"), Error);
    CHECK_THROWS_WITH_AS(add(a, zeros({3, 2}, DType::f64)), doctest::Contains("expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(exp(zeros({2}, DType::i64)), doctest::Contains("expected dtype f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(add(a, Tensor()), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(swiglu(a, b), doctest::Contains("swiglu: argument 'up'"), Error);
  }
}
