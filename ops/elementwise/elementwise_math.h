#pragma once
// The math of each elementwise op, for the cuda kernel (elementwise.cu): a line-by-line
// mirror of the lambdas in elementwise.cpp, in the tensor's float type.
// Host-compilable too, so tests/cuda/test_strided_geometry.cpp checks every kind against
// the CPU ops without a GPU.
#include <cmath>

#include "engine/host_device.h"
#include "ops/elementwise/elementwise_cuda.h"

namespace hqlt::detail {

// The math of ops/elementwise/elementwise.cpp, in T. v is x (or y, for the ops whose
// derivative is written in terms of the output: exp, sqrt, rsqrt, sigmoid).
template <typename T>
HQLT_HD inline T unary_f(UnaryKind k, T v, T s) {
  switch (k) {
    case UnaryKind::add_scalar: return v + s;
    case UnaryKind::mul_scalar: return v * s;
    case UnaryKind::pow: return std::pow(v, s);
    case UnaryKind::rdiv_scalar: return s / v;
    case UnaryKind::neg: return -v;
    case UnaryKind::exp: return std::exp(v);
    case UnaryKind::log: return std::log(v);
    case UnaryKind::sqrt: return std::sqrt(v);
    case UnaryKind::rsqrt: return T(1) / std::sqrt(v);
    case UnaryKind::abs: return std::fabs(v);
    case UnaryKind::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case UnaryKind::silu: return v / (T(1) + std::exp(-v));
    case UnaryKind::elu_plus_one: return v > T(0) ? v + T(1) : std::exp(v);
  }
  return T(0);
}

template <typename T>
HQLT_HD inline T unary_d(UnaryKind k, T v, T s) {
  switch (k) {
    case UnaryKind::add_scalar: return T(1);
    case UnaryKind::mul_scalar: return s;
    case UnaryKind::pow: return s == T(0) ? T(0) : s * std::pow(v, T(s - T(1)));
    case UnaryKind::rdiv_scalar: return -s / (v * v);
    case UnaryKind::neg: return T(-1);
    case UnaryKind::exp: return v;  // v = y
    case UnaryKind::log: return T(1) / v;
    case UnaryKind::sqrt: return T(1) / (T(2) * v);  // v = y
    case UnaryKind::rsqrt: return -v * v * v / T(2);  // v = y
    case UnaryKind::abs: return T((v > T(0)) - (v < T(0)));
    case UnaryKind::sigmoid: return v * (T(1) - v);  // v = y
    case UnaryKind::silu: {
      T sg = T(1) / (T(1) + std::exp(-v));
      return sg * (T(1) + v * (T(1) - sg));
    }
    case UnaryKind::elu_plus_one: return v > T(0) ? T(1) : std::exp(v);
  }
  return T(0);
}

template <typename T>
HQLT_HD inline T binary_f(BinaryKind k, T a, T b) {
  switch (k) {
    case BinaryKind::add: return a + b;
    case BinaryKind::sub: return a - b;
    case BinaryKind::mul: return a * b;
    case BinaryKind::div: return a / b;
    case BinaryKind::swiglu: return a / (T(1) + std::exp(-a)) * b;
  }
  return T(0);
}

template <typename T>
HQLT_HD inline T binary_da(BinaryKind k, T a, T b) {
  switch (k) {
    case BinaryKind::add: return T(1);
    case BinaryKind::sub: return T(1);
    case BinaryKind::mul: return b;
    case BinaryKind::div: return T(1) / b;
    case BinaryKind::swiglu: {
      T sg = T(1) / (T(1) + std::exp(-a));
      return sg * (T(1) + a * (T(1) - sg)) * b;
    }
  }
  return T(0);
}

template <typename T>
HQLT_HD inline T binary_db(BinaryKind k, T a, T b) {
  switch (k) {
    case BinaryKind::add: return T(1);
    case BinaryKind::sub: return T(-1);
    case BinaryKind::mul: return a;
    case BinaryKind::div: return -a / (b * b);
    case BinaryKind::swiglu: return a / (T(1) + std::exp(-a));
  }
  return T(0);
}

}  // namespace hqlt::detail
