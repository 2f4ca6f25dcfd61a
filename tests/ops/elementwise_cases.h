#pragma once
// The elementwise ops under test, one line each: the public op, an input range inside its
// domain, and its value written independently in plain double math. tests/ops/
// test_elementwise.cpp checks values and finite-difference gradients from this table and
// that it names every op of HQLT_UNARY_OPS / HQLT_BINARY_OPS; tests/cuda/
// test_elementwise_cuda.cpp runs the same lines on the GPU against the CPU.
#include <cmath>

#include "ops/elementwise/elementwise.h"

namespace hqlt::testing {

struct UnaryCase {
  const char* op;  // the name in elementwise_math.h
  Tensor (*f)(const Tensor&);
  double lo, hi;
  double (*plain)(double);
};

struct BinaryCase {
  const char* op;
  Tensor (*f)(const Tensor&, const Tensor&);
  double b_lo, b_hi;  // b's range (a is drawn from [-2, 2])
  double (*plain)(double, double);
  bool broadcasts = true;  // swiglu takes two tensors of one shape
};

inline double plain_sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

inline const UnaryCase kUnaryCases[] = {
    {"add_scalar", [](const Tensor& x) { return add_scalar(x, 0.75); }, -2, 2, [](double x) { return x + 0.75; }},
    {"mul_scalar", [](const Tensor& x) { return mul_scalar(x, -1.25); }, -2, 2, [](double x) { return -1.25 * x; }},
    {"pow", [](const Tensor& x) { return pow_scalar(x, 2.5); }, 0.2, 2, [](double x) { return std::pow(x, 2.5); }},
    {"pow", [](const Tensor& x) { return pow_scalar(x, 3.0); }, -2, 2, [](double x) { return x * x * x; }},
    {"pow", [](const Tensor& x) { return pow_scalar(x, 0.0); }, 0.2, 2, [](double) { return 1.0; }},
    {"rdiv_scalar", [](const Tensor& x) { return rdiv_scalar(3.0, x); }, 0.5, 2, [](double x) { return 3 / x; }},
    {"neg", neg, -2, 2, [](double x) { return -x; }},
    {"exp", exp, -3, 3, [](double x) { return std::exp(x); }},
    {"log", log, 0.1, 3, [](double x) { return std::log(x); }},
    {"sqrt", sqrt, 0.1, 3, [](double x) { return std::sqrt(x); }},
    {"rsqrt", rsqrt, 0.1, 3, [](double x) { return 1 / std::sqrt(x); }},
    {"abs", abs, -2, 2, [](double x) { return std::fabs(x); }},  // a measure-zero chance of 0
    {"sigmoid", sigmoid, -4, 4, plain_sigmoid},
    {"silu", silu, -4, 4, [](double x) { return x * plain_sigmoid(x); }},
    {"elu_plus_one", elu_plus_one, -3, 3, [](double x) { return x > 0 ? x + 1 : std::exp(x); }},
    {"relu", relu, -2, 2, [](double x) { return x > 0 ? x : 0.0; }},  // a measure-zero chance of 0
    {"clamp_min", [](const Tensor& x) { return clamp_min(x, -0.3); }, -2, 2,
     [](double x) { return x > -0.3 ? x : -0.3; }},
};

inline const BinaryCase kBinaryCases[] = {
    {"add", add, -2, 2, [](double a, double b) { return a + b; }},
    {"sub", sub, -2, 2, [](double a, double b) { return a - b; }},
    {"mul", mul, -2, 2, [](double a, double b) { return a * b; }},
    {"div", div, 0.5, 2, [](double a, double b) { return a / b; }},
    {"minimum", minimum, -1.5, 2.5, [](double a, double b) { return a < b ? a : b; }},
    {"maximum", maximum, -2.5, 1.5, [](double a, double b) { return a > b ? a : b; }},
    {"swiglu", swiglu, -2, 2, [](double a, double b) { return a * plain_sigmoid(a) * b; }, false},
};

}  // namespace hqlt::testing
