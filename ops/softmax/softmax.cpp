#include "ops/softmax/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/op_utils.h"
#include "ops/softmax/softmax_cuda.h"
#include "ops/softmax/softmax_math.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;

namespace sm = detail::softmax_math;
using Rows = sm::Rows;  // the rows of a contiguous tensor along one dim

Rows rows_along(const Shape& shape, int64_t dim) {
  Rows rows;
  rows.n = shape[size_t(dim)];
  int64_t outer = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < shape.size(); ++i) rows.inner *= shape[i];
  rows.count = outer * rows.inner;
  return rows;
}

// A contiguous tensor with t's values: t itself when it already is one.
Tensor as_contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone_contiguous(t); }

// y = softmax or log_softmax of each row of x (both contiguous, same shape).
template <typename T>
void softmax_forward(T* y, const T* x, const Rows& rows, bool log) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const int64_t n = rows.n, s = rows.inner;
#pragma omp parallel for schedule(static) if (should_parallelize(rows.count * n))
  for (int64_t r = 0; r < rows.count; ++r) {
    const T* xr = x + rows.start(r);
    T* yr = y + rows.start(r);
    T m = neg_inf;
    // NaN must win the max (std::max would skip it): a row of NaNs must not pass for a
    // row of −inf below.
    for (int64_t k = 0; k < n; ++k) m = detail::row_blocks::NanMax{}(m, xr[k * s]);
    if (m == neg_inf) {  // every entry is −inf: the defined limit (see the header)
      for (int64_t k = 0; k < n; ++k) yr[k * s] = log ? neg_inf : T(0);
      continue;
    }
    T sum = 0;
    if (log) {
      for (int64_t k = 0; k < n; ++k) sum += std::exp(xr[k * s] - m);
      const T shift = m + std::log(sum);
      for (int64_t k = 0; k < n; ++k) yr[k * s] = xr[k * s] - shift;
    } else {
      for (int64_t k = 0; k < n; ++k) sum += (yr[k * s] = std::exp(xr[k * s] - m));
      const T inv = T(1) / sum;
      for (int64_t k = 0; k < n; ++k) yr[k * s] *= inv;
    }
  }
}

// dx from dy and the saved output y (all contiguous, same shape); see the header.
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, const Rows& rows, bool log) {
  const int64_t n = rows.n, s = rows.inner;
#pragma omp parallel for schedule(static) if (should_parallelize(rows.count * n))
  for (int64_t r = 0; r < rows.count; ++r) {
    const int64_t at = rows.start(r);
    const T* yr = y + at;
    const T* gr = dy + at;
    T* dr = dx + at;
    T acc = 0;
    if (log) {
      for (int64_t k = 0; k < n; ++k) acc += gr[k * s];
      for (int64_t k = 0; k < n; ++k) dr[k * s] = sm::log_softmax_dx(gr[k * s], yr[k * s], acc);
    } else {
      for (int64_t k = 0; k < n; ++k) acc += gr[k * s] * yr[k * s];
      for (int64_t k = 0; k < n; ++k) dr[k * s] = sm::softmax_dx(gr[k * s], yr[k * s], acc);
    }
  }
}

// The kernels of the tensors' device (the loops above, or softmax.cu); all contiguous.
void forward_on_device(const Tensor& y, const Tensor& x, const Rows& rows, bool log, const char* name) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) return detail::softmax_forward_cuda(y, x, rows, log);
  }
  dispatch_float(x.dtype(), name, [&]<typename T>() { softmax_forward<T>(y.data<T>(), x.data<T>(), rows, log); });
}

void backward_on_device(const Tensor& dx, const Tensor& dy, const Tensor& y, const Rows& rows, bool log,
                        const char* name) {
  if constexpr (kWithCuda) {
    if (y.device() == Device::cuda) return detail::softmax_backward_cuda(dx, dy, y, rows, log);
  }
  dispatch_float(y.dtype(), name, [&]<typename T>() {
    softmax_backward<T>(dx.data<T>(), dy.data<T>(), y.data<T>(), rows, log);
  });
}

Tensor softmax_op(const char* name, const Tensor& x, int64_t dim, bool log) {
  ops::check_floating(name, "x", x);
  ops::check_device_built(name, x);
  HQLT_CHECK(x.dim() >= 1, name, ": argument 'x': expected rank >= 1, got a scalar (shape [])");
  const int64_t d = wrap_dim(dim, x.dim(), name);
  const Rows rows = rows_along(x.shape(), d);

  Tensor xc = as_contiguous(x);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  forward_on_device(y, xc, rows, log, name);

  if (autograd::needs_grad({x})) {
    Tensor saved_y = y.detach();
    autograd::record(name, {x}, {y}, [saved_y, rows, log, name](const TensorList& g, const Needs&) {
      Tensor dy = as_contiguous(g[0]);
      Tensor dx = empty(saved_y.shape(), saved_y.dtype(), saved_y.device());
      backward_on_device(dx, dy, saved_y, rows, log, name);
      return TensorList{dx};
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op("softmax", x, dim, /*log=*/false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op("log_softmax", x, dim, /*log=*/true); }

}  // namespace hqlt
