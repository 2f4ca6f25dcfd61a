#include "ops/elementwise/elementwise.h"

#include <cmath>

#include "engine/device.h"
#include "ops/elementwise/elementwise_cuda.h"
#include "ops/elementwise/map.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;
using elementwise::Saved;

// A tensor on the GPU runs the cuda kernels of elementwise.cu, in `if constexpr (kWithCuda)`
// branches that a CPU-only build compiles out (engine/device.h).

// y = op(x), with dy/dx = op.derivative(v), v being x or y as Op::saved says
// (elementwise_math.h).
template <typename Op>
Tensor unary_op(const Tensor& x, Op op) {
  const char* name = Op::name;
  ops::check_floating(name, "x", x);
  ops::check_device_built(name, x);
  Tensor y;
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) y = detail::unary_cuda(op, x);
  }
  if (!y.defined()) y = dispatch_float(x.dtype(), name, [&]<typename T>() {
    return ops::unary_map<T>(x, [op](T v) { return op.value(v); });
  });
  if (!autograd::needs_grad({x})) return y;
  // What the derivative reads: x or y; nothing when it is a constant (x + s, x·s, −x), so
  // that no tensor is kept alive for the backward and the gradient stands in as the unused
  // argument.
  Tensor v;
  if constexpr (Op::saved != Saved::nothing) v = (Op::saved == Saved::input ? x : y).detach();
  autograd::record(name, {x}, {y}, [v, op, name](const TensorList& g, const Needs&) {
    const Tensor& arg = v.defined() ? v : g[0];
    if constexpr (kWithCuda) {
      if (arg.device() == Device::cuda) return TensorList{detail::unary_grad_cuda(op, g[0], arg)};
    }
    Tensor dx = dispatch_float(arg.dtype(), name, [&]<typename T>() {
      return ops::binary_map<T>(name, g[0], arg, [op](T gi, T vi) { return gi * op.derivative(vi); });
    });
    return TensorList{dx};
  });
  return y;
}

// out = op(a, b) with the partial derivatives op.da(a, b) and op.db(a, b).
template <typename Op>
Tensor binary_op(const Tensor& a, const Tensor& b, Op op) {
  const char* name = Op::name;
  ops::check_floating(name, "a", a);
  ops::check_same_kind(name, "a", a, "b", b);
  ops::check_device_built(name, a);
  Tensor out;
  if constexpr (kWithCuda) {
    if (a.device() == Device::cuda) out = detail::binary_cuda(op, a, b);
  }
  if (!out.defined()) out = dispatch_float(a.dtype(), name, [&]<typename T>() {
    return ops::binary_map<T>(name, a, b, [op](T x, T y) { return op.value(x, y); });
  });
  if (autograd::needs_grad({a, b})) {
    Tensor sa = a.detach(), sb = b.detach();
    autograd::record(name, {a, b}, {out}, [sa, sb, op, name](const TensorList& g, const Needs& needs) {
      TensorList grads(2);
      for (int i = 0; i < 2; ++i) {
        if (!needs[size_t(i)]) continue;
        // g · partial(a, b) over the broadcast shape, then summed back to the input's shape.
        Tensor full;
        if constexpr (kWithCuda) {
          if (sa.device() == Device::cuda) full = detail::binary_grad_cuda(op, i, g[0], sa, sb);
        }
        if (!full.defined()) full = dispatch_float(sa.dtype(), name, [&]<typename T>() {
          return i == 0 ? ops::grad_map<T>(g[0], sa, sb, [op](T x, T y) { return op.da(x, y); })
                        : ops::grad_map<T>(g[0], sa, sb, [op](T x, T y) { return op.db(x, y); });
        });
        grads[size_t(i)] = ops::sum_to(full, (i == 0 ? sa : sb).shape());
      }
      return grads;
    });
  }
  return out;
}

}  // namespace

namespace ew = elementwise;

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Add{}); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Sub{}); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Mul{}); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Div{}); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Minimum{}); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(a, b, ew::Maximum{}); }

Tensor add_scalar(const Tensor& x, double s) { return unary_op(x, ew::AddScalar{s}); }
Tensor mul_scalar(const Tensor& x, double s) { return unary_op(x, ew::MulScalar{s}); }
Tensor pow_scalar(const Tensor& x, double p) { return unary_op(x, ew::Pow{p}); }
Tensor rdiv_scalar(double s, const Tensor& x) { return unary_op(x, ew::RdivScalar{s}); }

Tensor neg(const Tensor& x) { return unary_op(x, ew::Neg{}); }
Tensor exp(const Tensor& x) { return unary_op(x, ew::Exp{}); }
Tensor log(const Tensor& x) { return unary_op(x, ew::Log{}); }
Tensor sqrt(const Tensor& x) { return unary_op(x, ew::Sqrt{}); }
Tensor rsqrt(const Tensor& x) { return unary_op(x, ew::Rsqrt{}); }
Tensor abs(const Tensor& x) { return unary_op(x, ew::Abs{}); }
Tensor sigmoid(const Tensor& x) { return unary_op(x, ew::Sigmoid{}); }
Tensor silu(const Tensor& x) { return unary_op(x, ew::Silu{}); }
Tensor elu_plus_one(const Tensor& x) { return unary_op(x, ew::EluPlusOne{}); }
Tensor relu(const Tensor& x) { return unary_op(x, ew::Relu{}); }
Tensor clamp_min(const Tensor& x, double lo) { return unary_op(x, ew::ClampMin{lo}); }

Tensor swiglu(const Tensor& gate, const Tensor& up) {
  HQLT_CHECK(gate.defined() && up.defined() && gate.shape() == up.shape(), "swiglu: argument 'up': expected shape ",
             gate.defined() ? shape_str(gate.shape()) : "?", " (as 'gate'), got ",
             up.defined() ? shape_str(up.shape()) : "undefined");
  return binary_op(gate, up, ew::Swiglu{});
}

}  // namespace hqlt
