#include "ops/select/where.h"

#include "engine/strided_loop.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;

void check_condition(const char* op, const char* arg, const Tensor& c) {
  ops::check_defined(op, arg, c);
  ops::check_cpu(op, c);
}

// Calls f.template operator()<T, C>() with T the float type of `value_dtype` and C the
// element type of the condition (any dtype: a condition is true where nonzero).
template <typename F>
void dispatch_value_and_condition(const char* op, DType value_dtype, DType cond_dtype, F&& f) {
  dispatch_float(value_dtype, op, [&]<typename T>() {
    dispatch_all(cond_dtype, [&]<typename C>() { f.template operator()<T, C>(); });
  });
}

// dout where the condition equals `keep` and 0 elsewhere, over dout's shape (the
// condition broadcasts to it). dout may have any strides; the result is contiguous.
Tensor keep_gradient_where(const char* op, const Tensor& dout, const Tensor& cond, bool keep) {
  Tensor out = empty(dout.shape(), dout.dtype());
  dispatch_value_and_condition(op, dout.dtype(), cond.dtype(), [&]<typename T, typename C>() {
    T* o = out.data<T>();
    const T* g = dout.data<T>();
    const C* c = cond.data<C>();
    strided_loop<3>(dout.shape(), {out.strides(), dout.strides(), ops::broadcast_strides(cond, dout.shape())},
                    [&](auto off, int64_t n, auto step) {
                      for (int64_t j = 0; j < n; ++j) {
                        bool truth = c[off[2] + j * step[2]] != C(0);
                        o[off[0] + j * step[0]] = truth == keep ? g[off[1] + j * step[1]] : T(0);
                      }
                    });
  });
  return out;
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_condition("where", "cond", cond);
  ops::check_floating("where", "a", a);
  ops::check_same_kind("where", "a", a, "b", b);
  ops::check_cpu("where", a);
  const Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), "where"), cond.shape(), "where");

  Tensor out = empty(shape, a.dtype());
  dispatch_value_and_condition("where", a.dtype(), cond.dtype(), [&]<typename T, typename C>() {
    T* o = out.data<T>();
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    const C* c = cond.data<C>();
    strided_loop<4>(shape,
                    {out.strides(), ops::broadcast_strides(cond, shape), ops::broadcast_strides(a, shape),
                     ops::broadcast_strides(b, shape)},
                    [&](auto off, int64_t n, auto step) {
                      for (int64_t j = 0; j < n; ++j)
                        o[off[0] + j * step[0]] =
                            c[off[1] + j * step[1]] != C(0) ? ap[off[2] + j * step[2]] : bp[off[3] + j * step[3]];
                    });
  });

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
  ops::check_cpu("masked_fill", x);
  check_condition("masked_fill", "mask", mask);
  bool fits = mask.dim() <= x.dim();
  for (int64_t k = 1; fits && k <= mask.dim(); ++k) {
    int64_t m = mask.shape()[size_t(mask.dim() - k)], n = x.shape()[size_t(x.dim() - k)];
    fits = m == n || m == 1;
  }
  HQLT_CHECK(fits, "masked_fill: argument 'mask': expected a shape that broadcasts to x's shape ",
             shape_str(x.shape()), ", got ", shape_str(mask.shape()));

  Tensor out = empty(x.shape(), x.dtype());
  dispatch_value_and_condition("masked_fill", x.dtype(), mask.dtype(), [&]<typename T, typename C>() {
    T* o = out.data<T>();
    const T* xp = x.data<T>();
    const C* m = mask.data<C>();
    const T fill = T(value);
    strided_loop<3>(x.shape(), {out.strides(), x.strides(), ops::broadcast_strides(mask, x.shape())},
                    [&](auto off, int64_t n, auto step) {
                      for (int64_t j = 0; j < n; ++j)
                        o[off[0] + j * step[0]] = m[off[2] + j * step[2]] != C(0) ? fill : xp[off[1] + j * step[1]];
                    });
  });

  if (autograd::needs_grad({x})) {
    Tensor saved_mask = mask.detach();
    autograd::record("masked_fill", {x, mask}, {out}, [saved_mask](const TensorList& g, const Needs&) {
      return TensorList{keep_gradient_where("masked_fill", g[0], saved_mask, false), Tensor()};
    });
  }
  return out;
}

}  // namespace hqlt
