#include "ops/select/where.h"

#include "engine/device.h"
#include "engine/strided_loop.h"
#include "ops/op_utils.h"
#include "ops/select/where_cuda.h"
#include "ops/select/where_math.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;

void check_condition(const char* op, const char* arg, const Tensor& c, const char* value_arg, const Tensor& value) {
  ops::check_defined(op, arg, c);
  HQLT_CHECK(c.device() == value.device(), op, ": argument '", arg, "': expected device ", device_name(value.device()),
             " (as '", value_arg, "'), got ", device_name(c.device()));
}

// One input of choose_into: a tensor read with broadcast strides over the output's shape,
// or, when undefined, the constant `value`.
struct Operand {
  Tensor t;
  double value = 0;
};

// out = cond ? a : b elementwise (where_math.h) over out's shape, on out's device; out is
// fresh and contiguous, cond any dtype, a and b of out's dtype (or constants).
void choose_into(const char* op, const Tensor& out, const Tensor& cond, const Operand& a, const Operand& b) {
  const Shape& shape = out.shape();
  const auto strides = [&](const Operand& x) {
    return x.t.defined() ? ops::broadcast_strides(x.t, shape) : Strides(shape.size(), 0);
  };
  if constexpr (kWithCuda) {
    if (out.device() == Device::cuda) {
      detail::choose_cuda(op, out, {cond, ops::broadcast_strides(cond, shape)}, {a.t, strides(a), a.value},
                          {b.t, strides(b), b.value});
      return;
    }
  }
  dispatch_float(out.dtype(), op, [&]<typename T>() {
    dispatch_all(cond.dtype(), [&]<typename C>() {
      // A constant operand is read through stride 0 from a local.
      const T a_value = T(a.value), b_value = T(b.value);
      T* o = out.data<T>();
      const C* c = cond.data<C>();
      const T* ap = a.t.defined() ? a.t.data<T>() : &a_value;
      const T* bp = b.t.defined() ? b.t.data<T>() : &b_value;
      strided_loop<4>(shape, {out.strides(), ops::broadcast_strides(cond, shape), strides(a), strides(b)},
                      [&](auto off, int64_t n, auto step) {
                        for (int64_t j = 0; j < n; ++j)
                          o[off[0] + j * step[0]] = detail::choose(c[off[1] + j * step[1]], ap[off[2] + j * step[2]],
                                                                   bp[off[3] + j * step[3]]);
                      });
    });
  });
}

// dout where the condition equals `keep` and 0 elsewhere, over dout's shape (the
// condition broadcasts to it). dout may have any strides; the result is contiguous.
Tensor keep_gradient_where(const char* op, const Tensor& dout, const Tensor& cond, bool keep) {
  Tensor out = empty(dout.shape(), dout.dtype(), dout.device());
  if (keep)
    choose_into(op, out, cond, {dout}, {Tensor(), 0.0});
  else
    choose_into(op, out, cond, {Tensor(), 0.0}, {dout});
  return out;
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  ops::check_floating("where", "a", a);
  ops::check_same_kind("where", "a", a, "b", b);
  ops::check_device_built("where", a);
  check_condition("where", "cond", cond, "a", a);
  const Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), "where"), cond.shape(), "where");

  Tensor out = empty(shape, a.dtype(), a.device());
  choose_into("where", out, cond, {a}, {b});

  if (autograd::needs_grad({a, b})) {
    Tensor saved_cond = cond.detach();
    Shape a_shape = a.shape(), b_shape = b.shape();
    autograd::record("where", {cond, a, b}, {out},
                     [saved_cond, a_shape, b_shape](const TensorList& g, const Needs& needs) {
                       // Each branch's gradient over the broadcast shape, summed back to its own.
                       TensorList grads(3);
                       if (needs[1]) grads[1] = ops::sum_to(keep_gradient_where("where", g[0], saved_cond, true), a_shape);
                       if (needs[2]) grads[2] = ops::sum_to(keep_gradient_where("where", g[0], saved_cond, false), b_shape);
                       return grads;
                     });
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  ops::check_floating("masked_fill", "x", x);
  ops::check_device_built("masked_fill", x);
  check_condition("masked_fill", "mask", mask, "x", x);
  bool fits = mask.dim() <= x.dim();
  for (int64_t k = 1; fits && k <= mask.dim(); ++k) {
    int64_t m = mask.shape()[size_t(mask.dim() - k)], n = x.shape()[size_t(x.dim() - k)];
    fits = m == n || m == 1;
  }
  HQLT_CHECK(fits, "masked_fill: argument 'mask': expected a shape that broadcasts to x's shape ",
             shape_str(x.shape()), ", got ", shape_str(mask.shape()));

  Tensor out = empty(x.shape(), x.dtype(), x.device());
  choose_into("masked_fill", out, mask, {Tensor(), value}, {x});

  if (autograd::needs_grad({x})) {
    Tensor saved_mask = mask.detach();
    autograd::record("masked_fill", {x, mask}, {out}, [saved_mask](const TensorList& g, const Needs&) {
      return TensorList{keep_gradient_where("masked_fill", g[0], saved_mask, false), Tensor()};
    });
  }
  return out;
}

}  // namespace hqlt
