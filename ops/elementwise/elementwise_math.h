#pragma once
// Every elementwise op, written once: its value, its derivative, and which tensor the
// derivative reads (the op's input, or its output where that is cheaper: exp, sqrt, rsqrt,
// sigmoid; nothing where the derivative is a constant, so the tape keeps no tensor alive
// for it: x + s, x·s, −x). The functions are HQLT_HD, so the CPU loops (elementwise.cpp), the CUDA kernel
// (elementwise.cu) and the tests all run this same code; adding an op means one struct
// here, one line in its list below, and the public function in elementwise.h.
//
// A unary op has value(x) and derivative(v) (v is x or y as `saved` says); the ops with a
// scalar operand carry it as a double, converted to the tensor's type where it is used.
// A binary op has value(a, b) and the two partials da(a, b), db(a, b).
#include <cmath>

#include "engine/host_device.h"
#include "ops/kernel_math.h"

namespace hqlt::elementwise {

enum class Saved { input, output, nothing };

struct AddScalar {
  static constexpr const char* name = "add_scalar";
  static constexpr Saved saved = Saved::nothing;
  double s;
  template <typename T> HQLT_HD T value(T x) const { return x + T(s); }
  template <typename T> HQLT_HD T derivative(T) const { return T(1); }
};

struct MulScalar {
  static constexpr const char* name = "mul_scalar";
  static constexpr Saved saved = Saved::nothing;
  double s;
  template <typename T> HQLT_HD T value(T x) const { return x * T(s); }
  template <typename T> HQLT_HD T derivative(T) const { return T(s); }
};

// x^p; d/dx = p·x^(p−1), and exactly 0 for p = 0 (x^0 = 1 everywhere, also at x = 0).
struct Pow {
  static constexpr const char* name = "pow";
  static constexpr Saved saved = Saved::input;
  double p;
  template <typename T> HQLT_HD T value(T x) const { return std::pow(x, T(p)); }
  template <typename T> HQLT_HD T derivative(T x) const { return p == 0 ? T(0) : T(p) * std::pow(x, T(p - 1)); }
};

// s / x.
struct RdivScalar {
  static constexpr const char* name = "rdiv_scalar";
  static constexpr Saved saved = Saved::input;
  double s;
  template <typename T> HQLT_HD T value(T x) const { return T(s) / x; }
  template <typename T> HQLT_HD T derivative(T x) const { return -T(s) / (x * x); }
};

struct Neg {
  static constexpr const char* name = "neg";
  static constexpr Saved saved = Saved::nothing;
  template <typename T> HQLT_HD T value(T x) const { return -x; }
  template <typename T> HQLT_HD T derivative(T) const { return T(-1); }
};

struct Exp {
  static constexpr const char* name = "exp";
  static constexpr Saved saved = Saved::output;
  template <typename T> HQLT_HD T value(T x) const { return std::exp(x); }
  template <typename T> HQLT_HD T derivative(T y) const { return y; }
};

struct Log {
  static constexpr const char* name = "log";
  static constexpr Saved saved = Saved::input;
  template <typename T> HQLT_HD T value(T x) const { return std::log(x); }
  template <typename T> HQLT_HD T derivative(T x) const { return T(1) / x; }
};

struct Sqrt {
  static constexpr const char* name = "sqrt";
  static constexpr Saved saved = Saved::output;
  template <typename T> HQLT_HD T value(T x) const { return std::sqrt(x); }
  template <typename T> HQLT_HD T derivative(T y) const { return T(1) / (T(2) * y); }
};

// y = x^(−1/2), dy/dx = −y³/2.
struct Rsqrt {
  static constexpr const char* name = "rsqrt";
  static constexpr Saved saved = Saved::output;
  template <typename T> HQLT_HD T value(T x) const { return T(1) / std::sqrt(x); }
  template <typename T> HQLT_HD T derivative(T y) const { return -y * y * y / T(2); }
};

// Gradient sign(x), 0 at 0.
struct Abs {
  static constexpr const char* name = "abs";
  static constexpr Saved saved = Saved::input;
  template <typename T> HQLT_HD T value(T x) const { return std::fabs(x); }
  template <typename T> HQLT_HD T derivative(T x) const { return T((x > T(0)) - (x < T(0))); }
};

// σ(x), in the overflow-free form of kernels::sigmoid; dσ/dx = y (1 − y).
struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  static constexpr Saved saved = Saved::output;
  template <typename T> HQLT_HD T value(T x) const { return kernels::sigmoid(x); }
  template <typename T> HQLT_HD T derivative(T y) const { return y * (T(1) - y); }
};

// x·σ(x); d/dx = σ(x) (1 + x (1 − σ(x))).
struct Silu {
  static constexpr const char* name = "silu";
  static constexpr Saved saved = Saved::input;
  template <typename T> HQLT_HD T value(T x) const { return x * kernels::sigmoid(x); }
  template <typename T> HQLT_HD T derivative(T x) const {
    const T s = kernels::sigmoid(x);
    return s * (T(1) + x * (T(1) - s));
  }
};

// elu(x) + 1: x + 1 for x > 0, e^x otherwise (the positive feature map of linear attention).
struct EluPlusOne {
  static constexpr const char* name = "elu_plus_one";
  static constexpr Saved saved = Saved::input;
  template <typename T> HQLT_HD T value(T x) const { return x > T(0) ? x + T(1) : std::exp(x); }
  template <typename T> HQLT_HD T derivative(T x) const { return x > T(0) ? T(1) : std::exp(x); }
};

// max(x, 0); the derivative at 0 is taken as 0, as in PyTorch.
struct Relu {
  static constexpr const char* name = "relu";
  static constexpr Saved saved = Saved::input;
  template <typename T> HQLT_HD T value(T x) const { return x > T(0) ? x : T(0); }
  template <typename T> HQLT_HD T derivative(T x) const { return x > T(0) ? T(1) : T(0); }
};

struct Add {
  static constexpr const char* name = "add";
  template <typename T> HQLT_HD T value(T a, T b) const { return a + b; }
  template <typename T> HQLT_HD T da(T, T) const { return T(1); }
  template <typename T> HQLT_HD T db(T, T) const { return T(1); }
};

struct Sub {
  static constexpr const char* name = "sub";
  template <typename T> HQLT_HD T value(T a, T b) const { return a - b; }
  template <typename T> HQLT_HD T da(T, T) const { return T(1); }
  template <typename T> HQLT_HD T db(T, T) const { return T(-1); }
};

struct Mul {
  static constexpr const char* name = "mul";
  template <typename T> HQLT_HD T value(T a, T b) const { return a * b; }
  template <typename T> HQLT_HD T da(T, T b) const { return b; }
  template <typename T> HQLT_HD T db(T a, T) const { return a; }
};

struct Div {
  static constexpr const char* name = "div";
  template <typename T> HQLT_HD T value(T a, T b) const { return a / b; }
  template <typename T> HQLT_HD T da(T, T b) const { return T(1) / b; }
  template <typename T> HQLT_HD T db(T a, T b) const { return -a / (b * b); }
};

// Ties send the gradient to a (a single subgradient, so a sum of the two partials is 1).
struct Minimum {
  static constexpr const char* name = "minimum";
  template <typename T> HQLT_HD T value(T a, T b) const { return b < a ? b : a; }
  template <typename T> HQLT_HD T da(T a, T b) const { return b < a ? T(0) : T(1); }
  template <typename T> HQLT_HD T db(T a, T b) const { return b < a ? T(1) : T(0); }
};

struct Maximum {
  static constexpr const char* name = "maximum";
  template <typename T> HQLT_HD T value(T a, T b) const { return a < b ? b : a; }
  template <typename T> HQLT_HD T da(T a, T b) const { return a < b ? T(0) : T(1); }
  template <typename T> HQLT_HD T db(T a, T b) const { return a < b ? T(1) : T(0); }
};

// SwiGLU's product silu(gate)·up, fused; a = gate, b = up.
struct Swiglu {
  static constexpr const char* name = "swiglu";
  template <typename T> HQLT_HD T value(T a, T b) const { return a * kernels::sigmoid(a) * b; }
  template <typename T> HQLT_HD T da(T a, T b) const {
    const T s = kernels::sigmoid(a);
    return s * (T(1) + a * (T(1) - s)) * b;
  }
  template <typename T> HQLT_HD T db(T a, T) const { return a * kernels::sigmoid(a); }
};

// max(x, lo): a floor, as in log max(π, 10⁻⁸); no gradient at or below the floor.
struct ClampMin {
  static constexpr const char* name = "clamp_min";
  static constexpr Saved saved = Saved::input;
  double lo;
  template <typename T> HQLT_HD T value(T x) const { return x > T(lo) ? x : T(lo); }
  template <typename T> HQLT_HD T derivative(T x) const { return x > T(lo) ? T(1) : T(0); }
};

// The lists: the CUDA file instantiates its kernels for each entry, and the tests walk them.
#define HQLT_UNARY_OPS(X) \
  X(AddScalar) X(MulScalar) X(Pow) X(RdivScalar) X(Neg) X(Exp) X(Log) X(Sqrt) X(Rsqrt) X(Abs) X(Sigmoid) X(Silu) \
  X(EluPlusOne) X(Relu) X(ClampMin)
#define HQLT_BINARY_OPS(X) X(Add) X(Sub) X(Mul) X(Div) X(Minimum) X(Maximum) X(Swiglu)

}  // namespace hqlt::elementwise
