// Elementwise ops on the GPU against the CPU kernels: forward and backward, f32 and f64,
// broadcasting and strided inputs.
#include <doctest/doctest.h>

#include "cuda_compare.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"

using namespace hqlt;
using hqlt::testing::run_on_both;
using hqlt::testing::tol_for;

namespace {

struct UnaryCase {
  const char* name;
  Tensor (*f)(const Tensor&);
  double lo, hi;  // input range (inside the op's domain)
};

Tensor pow_frac(const Tensor& x) { return pow_scalar(x, 2.5); }
Tensor pow_int(const Tensor& x) { return pow_scalar(x, 3.0); }
Tensor pow_zero(const Tensor& x) { return pow_scalar(x, 0.0); }
Tensor add_s(const Tensor& x) { return add_scalar(x, 0.75); }
Tensor mul_s(const Tensor& x) { return mul_scalar(x, -1.25); }
Tensor rdiv_s(const Tensor& x) { return rdiv_scalar(3.0, x); }

const UnaryCase kUnary[] = {
    {"add_scalar", add_s, -2, 2},   {"mul_scalar", mul_s, -2, 2},   {"pow 2.5", pow_frac, 0.2, 2},
    {"pow 3", pow_int, -2, 2},      {"pow 0", pow_zero, 0.2, 2},    {"rdiv_scalar", rdiv_s, 0.5, 2},
    {"neg", neg, -2, 2},            {"exp", exp, -3, 3},            {"log", log, 0.1, 3},
    {"sqrt", sqrt, 0.1, 3},         {"rsqrt", rsqrt, 0.1, 3},       {"abs", abs, -2, 2},
    {"sigmoid", sigmoid, -4, 4},    {"silu", silu, -4, 4},          {"elu_plus_one", elu_plus_one, -3, 3},
};

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda unary elementwise ops match the CPU forward and backward") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(11);
    for (DType dt : {DType::f32, DType::f64}) {
      for (const UnaryCase& c : kUnary) {
        INFO(c.name << " " << dtype_name(dt));
        Tensor x = rand({3, 5, 7}, dt, Device::cpu, c.lo, c.hi);
        run_on_both([&](const std::vector<Tensor>& in) { return c.f(in[0]); }, {x}, tol_for(dt));
        // A strided input (a transposed view) through the same op.
        run_on_both([&](const std::vector<Tensor>& in) { return c.f(in[0].transpose(0, 2)); }, {x}, tol_for(dt));
      }
    }
  }

  TEST_CASE("cuda binary elementwise ops match the CPU with broadcasting") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(12);
    using Bin = Tensor (*)(const Tensor&, const Tensor&);
    const std::pair<const char*, Bin> ops[] = {{"add", add}, {"sub", sub}, {"mul", mul}, {"div", div}};
    const std::pair<Shape, Shape> shapes[] = {
        {{4, 6}, {4, 6}},           // same shape
        {{4, 1, 6}, {3, 1}},        // both broadcast, b has fewer dims
        {{2, 3, 4}, {4}},           // row vector
        {{5}, {2, 3, 5}},           // a broadcast over leading dims
        {{1}, {1}},                 // single element
        {{0, 3}, {3}},              // empty
    };
    for (DType dt : {DType::f32, DType::f64}) {
      for (const auto& [name, op] : ops) {
        for (const auto& [sa, sb] : shapes) {
          INFO(name << " " << dtype_name(dt) << " " << shape_str(sa) << " " << shape_str(sb));
          Tensor a = rand(sa, dt, Device::cpu, -2, 2);
          Tensor b = rand(sb, dt, Device::cpu, 0.5, 2);  // away from 0 for div
          run_on_both([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b}, tol_for(dt));
        }
      }
    }
  }

  TEST_CASE("cuda swiglu and a reused input match the CPU") {
    HQLT_SKIP_WITHOUT_GPU();
    manual_seed(13);
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor g = randn({6, 9}, dt), u = randn({6, 9}, dt);
      run_on_both([](const std::vector<Tensor>& in) { return swiglu(in[0], in[1]); }, {g, u}, tol_for(dt));
      // x used twice: its gradient is accumulated on the GPU.
      run_on_both([](const std::vector<Tensor>& in) { return mul(in[0], sigmoid(in[0])) + in[0]; }, {g},
                  tol_for(dt));
      // More elements than one grid covers (4096 × 256, engine/cuda/strided.h), with a ragged
      // tail, so the grid-stride loop runs twice and stops short.
      Tensor big = randn({(int64_t(1) << 21) + 3}, dt);
      run_on_both([](const std::vector<Tensor>& in) { return silu(in[0]); }, {big}, tol_for(dt));
    }
  }
}
