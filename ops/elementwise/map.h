#pragma once
// The loops behind every elementwise op: apply a function to one tensor, or to two
// tensors broadcast against each other, and the chain rule of the latter. Outputs are fresh and contiguous. These are
// kernels (no tape); the ops in elementwise.h wrap them and record backward passes that
// are themselves written with these maps.
#include "engine/strided_loop.h"
#include "ops/op_utils.h"

namespace hqlt::ops {

// out[i] = f(x[i]), with out's dtype equal to x's.
template <typename T, typename F>
Tensor unary_map(const Tensor& x, F f) {
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  T* o = out.data<T>();
  const T* xp = x.data<T>();
  strided_loop<2>(x.shape(), {out.strides(), x.strides()}, [&](auto off, int64_t n, auto step) {
    T* op = o + off[0];
    const T* xs = xp + off[1];
    if (step[1] == 1) {
      for (int64_t j = 0; j < n; ++j) op[j] = f(xs[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) op[j] = f(xs[j * step[1]]);
    }
  });
  return out;
}

// out[i] = f(a[i], b[i]) over the broadcast shape of a and b.
template <typename T, typename F>
Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, F f) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, a.dtype(), a.device());
  T* o = out.data<T>();
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  strided_loop<3>(shape, {out.strides(), broadcast_strides(a, shape), broadcast_strides(b, shape)},
                  [&](auto off, int64_t n, auto step) {
                    T* op = o + off[0];
                    const T* as = ap + off[1];
                    const T* bs = bp + off[2];
                    if (step[1] == 1 && step[2] == 1) {
                      for (int64_t j = 0; j < n; ++j) op[j] = f(as[j], bs[j]);
                    } else if (step[1] == 1 && step[2] == 0) {
                      const T bv = *bs;
                      for (int64_t j = 0; j < n; ++j) op[j] = f(as[j], bv);
                    } else {
                      for (int64_t j = 0; j < n; ++j) op[j] = f(as[j * step[1]], bs[j * step[2]]);
                    }
                  });
  return out;
}

// out[i] = g[i] · partial(a[i], b[i]) over g's shape (the broadcast shape of a and b): the
// chain rule of a binary op in one pass, instead of building partial and then multiplying.
template <typename T, typename F>
Tensor grad_map(const Tensor& g, const Tensor& a, const Tensor& b, F partial) {
  const Shape& shape = g.shape();
  Tensor out = empty(shape, g.dtype(), g.device());
  T* o = out.data<T>();
  const T* gp = g.data<T>();
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  strided_loop<4>(shape, {out.strides(), g.strides(), broadcast_strides(a, shape), broadcast_strides(b, shape)},
                  [&](auto off, int64_t n, auto step) {
                    T* op = o + off[0];
                    const T* gs = gp + off[1];
                    const T* as = ap + off[2];
                    const T* bs = bp + off[3];
                    if (step[1] == 1 && step[2] == 1 && step[3] == 1) {
                      for (int64_t j = 0; j < n; ++j) op[j] = gs[j] * T(partial(as[j], bs[j]));
                    } else {
                      for (int64_t j = 0; j < n; ++j)
                        op[j] = gs[j * step[1]] * T(partial(as[j * step[2]], bs[j * step[3]]));
                    }
                  });
  return out;
}

}  // namespace hqlt::ops
