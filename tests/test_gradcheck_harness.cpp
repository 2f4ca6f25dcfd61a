// The gradient checker must be able to fail: an op with a deliberately wrong backward is
// caught, with the offending element named, and so is an f32 path that loses precision.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/map.h"

using namespace hqlt;
using namespace hqlt::testing;

namespace {

// y = x³ whose backward claims dy/dx = 3x² + 0.01 (a small, realistic mistake).
Tensor cube_with_wrong_backward(const Tensor& x) {
  Tensor y = ops::unary_map<double>(x, [](double v) { return v * v * v; });
  if (autograd::needs_grad({x})) {
    Tensor sx = x.detach();
    autograd::record("wrong_cube", {x}, {y}, [sx](const autograd::TensorList& g, const std::vector<bool>&) {
      NoGrad ng;
      return autograd::TensorList{g[0] * (sx * sx * 3.0 + 0.01)};
    });
  }
  return y;
}

Tensor cube_with_right_backward(const Tensor& x) {
  Tensor y = ops::unary_map<double>(x, [](double v) { return v * v * v; });
  if (autograd::needs_grad({x})) {
    Tensor sx = x.detach();
    autograd::record("cube", {x}, {y}, [sx](const autograd::TensorList& g, const std::vector<bool>&) {
      NoGrad ng;
      return autograd::TensorList{g[0] * (sx * sx * 3.0)};
    });
  }
  return y;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("gradcheck catches a wrong backward") {
    auto wrong = gradcheck([](const std::vector<Tensor>& x) { return cube_with_wrong_backward(x[0]); },
                           {leaf({5})});
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.report.find("analytic") != std::string::npos);
    auto right = gradcheck([](const std::vector<Tensor>& x) { return cube_with_right_backward(x[0]); },
                           {leaf({5})});
    INFO(right.report);
    CHECK(right.ok);
  }
  TEST_CASE("gradcheck refuses to pass when nothing was checked") {
    Tensor x = randn({3}, DType::f64);  // does not require grad
    auto r = gradcheck([](const std::vector<Tensor>& v) { return v[0] * 2.0; }, {x});
    CHECK_FALSE(r.ok);
  }
  TEST_CASE("f32-vs-f64 comparison catches a precision loss") {
    // Catastrophic cancellation: (x + 1e4) - 1e4 loses most of x's bits in f32.
    auto f = [](const std::vector<Tensor>& x) { return (x[0] + 1e4) - 1e4; };
    auto r = compare_f32_with_f64(f, {leaf({8}, 1e-3)});
    CHECK_FALSE(r.ok);
  }
}
