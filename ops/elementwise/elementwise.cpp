#include "ops/elementwise/elementwise.h"

#include <cmath>

#include "ops/elementwise/elementwise_cuda.h"
#include "ops/elementwise/map.h"
#include "ops/kernel_math.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;
using detail::BinaryKind;
using detail::UnaryFn;
using detail::UnaryKind;

// True when the op runs its cuda kernel (elementwise.cu) rather than the CPU map.
bool on_cuda(const Tensor& t) {
#ifdef HQLT_HAS_CUDA
  return t.device() == Device::cuda;
#else
  return false;
#endif
}

void check_unary(const char* op, const Tensor& x) {
  ops::check_floating(op, "x", x);
  ops::check_device_built(op, x);
}

// Which tensor a unary op's derivative is written in terms of.
enum class SavedValue { input, output };

// A unary op y = f(x) with dy/dx = deriv(v), where v is x or y as `saved` says.
// f and deriv are generic lambdas, instantiated for float and double; `fn` names the same
// math for the cuda kernel.
template <typename F, typename D>
Tensor unary_op(const char* name, const Tensor& x, SavedValue saved, UnaryFn fn, F f, D deriv) {
  check_unary(name, x);
  Tensor y = on_cuda(x) ? detail::unary_cuda(name, fn, x)
                        : dispatch_float(x.dtype(), name, [&]<typename T>() { return ops::unary_map<T>(x, f); });
  if (autograd::needs_grad({x})) {
    Tensor v = (saved == SavedValue::input ? x : y).detach();
    autograd::record(name, {x}, {y}, [v, fn, deriv, name](const TensorList& g, const Needs&) {
      if (on_cuda(v)) return TensorList{detail::unary_grad_cuda(name, fn, g[0], v)};
      Tensor dx = dispatch_float(v.dtype(), name, [&]<typename T>() {
        return ops::binary_map<T>(name, g[0], v, [&](T gi, T vi) { return gi * T(deriv(vi)); });
      });
      return TensorList{dx};
    });
  }
  return y;
}

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
  ops::check_floating(op, "a", a);
  ops::check_same_kind(op, "a", a, "b", b);
  ops::check_device_built(op, a);
}

// A binary op out = f(a, b) with partial derivatives da(a, b) and db(a, b); `kind` names
// the same math for the cuda kernel.
template <typename F, typename DA, typename DB>
Tensor binary_op(const char* name, const Tensor& a, const Tensor& b, BinaryKind kind, F f, DA da, DB db) {
  check_binary(name, a, b);
  Tensor out = on_cuda(a) ? detail::binary_cuda(name, kind, a, b) : dispatch_float(a.dtype(), name, [&]<typename T>() {
    return ops::binary_map<T>(name, a, b, f);
  });
  if (autograd::needs_grad({a, b})) {
    Tensor sa = a.detach(), sb = b.detach();
    autograd::record(name, {a, b}, {out}, [sa, sb, kind, da, db, name](const TensorList& g, const Needs& needs) {
      TensorList grads(2);
      if (on_cuda(sa)) {  // the same two steps, on the GPU
        for (int i = 0; i < 2; ++i) {
          if (!needs[size_t(i)]) continue;
          Tensor full = detail::binary_grad_cuda(name, kind, i, g[0], sa, sb);
          grads[size_t(i)] = ops::sum_to(full, (i == 0 ? sa : sb).shape());
        }
        return grads;
      }
      dispatch_float(sa.dtype(), name, [&]<typename T>() {
        // g * partial(a, b) over the broadcast shape, then summed back to each input's shape.
        auto grad_of = [&](auto partial, const Tensor& like) {
          return ops::sum_to(ops::grad_map<T>(g[0], sa, sb, partial), like.shape());
        };
        if (needs[0]) grads[0] = grad_of(da, sa);
        if (needs[1]) grads[1] = grad_of(db, sb);
      });
      return grads;
    });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op(
      "add", a, b, BinaryKind::add, [](auto x, auto y) { return x + y; }, [](auto, auto) { return 1.0; },
      [](auto, auto) { return 1.0; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op(
      "sub", a, b, BinaryKind::sub, [](auto x, auto y) { return x - y; }, [](auto, auto) { return 1.0; },
      [](auto, auto) { return -1.0; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op(
      "mul", a, b, BinaryKind::mul, [](auto x, auto y) { return x * y; }, [](auto, auto y) { return y; },
      [](auto x, auto) { return x; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op(
      "div", a, b, BinaryKind::div, [](auto x, auto y) { return x / y; }, [](auto, auto y) { return 1 / y; },
      [](auto x, auto y) { return -x / (y * y); });
}

Tensor add_scalar(const Tensor& x, double s) {
  return unary_op(
      "add_scalar", x, SavedValue::input, {UnaryKind::add_scalar, s}, [s](auto v) { return v + decltype(v)(s); },
      [](auto) { return 1.0; });
}
Tensor mul_scalar(const Tensor& x, double s) {
  return unary_op(
      "mul_scalar", x, SavedValue::input, {UnaryKind::mul_scalar, s}, [s](auto v) { return v * decltype(v)(s); },
      [s](auto) { return s; });
}
Tensor pow_scalar(const Tensor& x, double p) {
  return unary_op(
      "pow", x, SavedValue::input, {UnaryKind::pow, p}, [p](auto v) { return std::pow(v, decltype(v)(p)); },
      [p](auto v) { return p == 0 ? decltype(v)(0) : decltype(v)(p) * std::pow(v, decltype(v)(p - 1)); });
}
Tensor rdiv_scalar(double s, const Tensor& x) {
  return unary_op(
      "rdiv_scalar", x, SavedValue::input, {UnaryKind::rdiv_scalar, s}, [s](auto v) { return decltype(v)(s) / v; },
      [s](auto v) { return -decltype(v)(s) / (v * v); });
}

Tensor neg(const Tensor& x) {
  return unary_op(
      "neg", x, SavedValue::input, {UnaryKind::neg}, [](auto v) { return -v; }, [](auto) { return -1.0; });
}
Tensor exp(const Tensor& x) {
  return unary_op(
      "exp", x, SavedValue::output, {UnaryKind::exp}, [](auto v) { return std::exp(v); }, [](auto y) { return y; });
}
Tensor log(const Tensor& x) {
  return unary_op(
      "log", x, SavedValue::input, {UnaryKind::log}, [](auto v) { return std::log(v); }, [](auto v) { return 1 / v; });
}
Tensor sqrt(const Tensor& x) {
  return unary_op(
      "sqrt", x, SavedValue::output, {UnaryKind::sqrt}, [](auto v) { return std::sqrt(v); },
      [](auto y) { return 1 / (2 * y); });
}
Tensor rsqrt(const Tensor& x) {
  // y = x^(-1/2), dy/dx = -y^3 / 2
  return unary_op(
      "rsqrt", x, SavedValue::output, {UnaryKind::rsqrt}, [](auto v) { return 1 / std::sqrt(v); },
      [](auto y) { return -y * y * y / 2; });
}
Tensor abs(const Tensor& x) {
  return unary_op(
      "abs", x, SavedValue::input, {UnaryKind::abs}, [](auto v) { return std::abs(v); },
      [](auto v) { return decltype(v)((v > 0) - (v < 0)); });
}

Tensor sigmoid(const Tensor& x) {
  return unary_op(
      "sigmoid", x, SavedValue::output, {UnaryKind::sigmoid}, [](auto v) { return kernels::sigmoid(v); },
      [](auto y) { return y * (1 - y); });
}
Tensor silu(const Tensor& x) {
  // d/dx x·σ(x) = σ(x) (1 + x (1 − σ(x)))
  return unary_op(
      "silu", x, SavedValue::input, {UnaryKind::silu}, [](auto v) { return v * kernels::sigmoid(v); },
      [](auto v) {
        auto s = kernels::sigmoid(v);
        return s * (1 + v * (1 - s));
      });
}
Tensor elu_plus_one(const Tensor& x) {
  return unary_op(
      "elu_plus_one", x, SavedValue::input, {UnaryKind::elu_plus_one},
      [](auto v) { return v > 0 ? v + 1 : std::exp(v); }, [](auto v) { return v > 0 ? decltype(v)(1) : std::exp(v); });
}

Tensor swiglu(const Tensor& gate, const Tensor& up) {
  HQLT_CHECK(gate.defined() && up.defined() && gate.shape() == up.shape(), "swiglu: argument 'up': expected shape ",
             gate.defined() ? shape_str(gate.shape()) : "?", " (as 'gate'), got ",
             up.defined() ? shape_str(up.shape()) : "undefined");
  return binary_op(
      "swiglu", gate, up, BinaryKind::swiglu, [](auto g, auto u) { return g * kernels::sigmoid(g) * u; },
      [](auto g, auto u) {
        auto s = kernels::sigmoid(g);
        return s * (1 + g * (1 - s)) * u;
      },
      [](auto g, auto) { return g * kernels::sigmoid(g); });
}

}  // namespace hqlt
