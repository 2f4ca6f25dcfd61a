#include "ops/norm/norm.h"

#include <algorithm>
#include <cmath>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/norm/norm_cuda.h"
#include "ops/norm/norm_math.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

namespace nm = detail::norm_math;
using autograd::TensorList;
using Needs = std::vector<bool>;

// RMSNorm and ℓ2 normalisation are one computation with a different divisor c for the
// sum of squares: r = 1 / sqrt(Σ_k x_k² / c + eps), with c = D for the mean (RMSNorm)
// and c = 1 for the plain sum (ℓ2). The backward differs in the same place only:
//   dx = r · (ĝ − x̂ · Σ_k(ĝ_k x̂_k) / c),   x̂ = r·x, ĝ = g ⊙ weight (or g).
struct RowNorm {
  int64_t rows = 0, d = 0;
  double divisor = 1;
  double eps = 0;
};

// y = r·x (⊙ w), and r per row; x, y contiguous [rows, d]; w null for no weight.
template <typename T>
void norm_forward(T* y, T* rstd, const T* x, const T* w, const RowNorm& p) {
  const int64_t d = p.d;
  const T inv_c = T(1 / p.divisor), eps = T(p.eps);
#pragma omp parallel for schedule(static) if (should_parallelize(p.rows * d))
  for (int64_t i = 0; i < p.rows; ++i) {
    const T* xi = x + i * d;
    T* yi = y + i * d;
    T ss = 0;
    for (int64_t k = 0; k < d; ++k) ss += xi[k] * xi[k];
    const T r = nm::rstd(ss, inv_c, eps);
    rstd[i] = r;
    for (int64_t k = 0; k < d; ++k) yi[k] = nm::forward_elem(xi[k], r, w, k);
  }
}

// dx from dy, the saved x and r, and the weight (null for none); all contiguous.
template <typename T>
void norm_backward_x(T* dx, const T* dy, const T* x, const T* rstd, const T* w, const RowNorm& p) {
  const int64_t d = p.d;
  const T inv_c = T(1 / p.divisor);
#pragma omp parallel for schedule(static) if (should_parallelize(p.rows * d))
  for (int64_t i = 0; i < p.rows; ++i) {
    const T* xi = x + i * d;
    const T* gi = dy + i * d;
    T* di = dx + i * d;
    const T r = rstd[i];
    T dot = 0;  // Σ ĝ_k x̂_k
    for (int64_t k = 0; k < d; ++k) dot += nm::g_hat(gi[k], w, k) * (xi[k] * r);
    const T coef = dot * inv_c;
    for (int64_t k = 0; k < d; ++k) di[k] = nm::dx_elem(nm::g_hat(gi[k], w, k), xi[k], r, coef);
  }
}

// dweight_k = Σ_i dy_ik x̂_ik. Split by blocks of columns, not rows: each column is summed
// over the rows in order, so the bits do not depend on the thread count.
template <typename T>
void norm_backward_weight(T* dw, const T* dy, const T* x, const T* rstd, const RowNorm& p) {
  constexpr int64_t kBlock = 64;
  const int64_t d = p.d, blocks = (d + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (should_parallelize(p.rows * d))
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t k0 = b * kBlock, k1 = std::min(d, k0 + kBlock);
    for (int64_t k = k0; k < k1; ++k) dw[k] = 0;
    for (int64_t i = 0; i < p.rows; ++i) {
      const T* xi = x + i * d;
      const T* gi = dy + i * d;
      const T r = rstd[i];
      for (int64_t k = k0; k < k1; ++k) dw[k] += gi[k] * (xi[k] * r);
    }
  }
}

Tensor as_contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone_contiguous(t); }

// The kernels of the inputs' device (the loops above, or norm.cu); all tensors contiguous,
// w undefined for no weight.
void forward_on_device(const Tensor& y, const Tensor& rstd, const Tensor& x, const Tensor& w, const RowNorm& p,
                       const char* name) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) return detail::norm_forward_cuda(y, rstd, x, w, p.divisor, p.eps);
  }
  dispatch_float(x.dtype(), name, [&]<typename T>() {
    norm_forward<T>(y.data<T>(), rstd.data<T>(), x.data<T>(), w.defined() ? w.data<T>() : nullptr, p);
  });
}

void backward_x_on_device(const Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& rstd, const Tensor& w,
                          const RowNorm& p, const char* name) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) return detail::norm_backward_x_cuda(dx, dy, x, rstd, w, p.divisor);
  }
  dispatch_float(x.dtype(), name, [&]<typename T>() {
    norm_backward_x<T>(dx.data<T>(), dy.data<T>(), x.data<T>(), rstd.data<T>(), w.defined() ? w.data<T>() : nullptr,
                       p);
  });
}

void backward_weight_on_device(const Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& rstd,
                               const RowNorm& p, const char* name) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) return detail::norm_backward_weight_cuda(dw, dy, x, rstd);
  }
  dispatch_float(x.dtype(), name, [&]<typename T>() {
    norm_backward_weight<T>(dw.data<T>(), dy.data<T>(), x.data<T>(), rstd.data<T>(), p);
  });
}

// The shared entry: checks, forward, and the tape entry. `mean` picks RMSNorm's divisor.
Tensor row_norm(const char* name, const Tensor& x, const Tensor& weight, double eps, bool mean) {
  ops::check_floating(name, "x", x);
  ops::check_device_built(name, x);
  HQLT_CHECK(x.dim() >= 1 && x.size(-1) >= 1, name, ": argument 'x': expected shape [..., D] with D >= 1, got ",
             shape_str(x.shape()));
  const int64_t d = x.size(-1);
  if (weight.defined()) {
    ops::check_same_kind(name, "x", x, "weight", weight);
    HQLT_CHECK(weight.shape() == Shape{d}, name, ": argument 'weight': expected shape [", d,
               "] (x's last dim), got ", shape_str(weight.shape()));
  }
  HQLT_CHECK(std::isfinite(eps) && eps >= 0, name, ": argument 'eps': expected a finite value >= 0, got ", eps);

  RowNorm p;
  p.d = d;
  p.rows = x.numel() / d;
  p.divisor = mean ? double(d) : 1.0;
  p.eps = eps;

  Tensor xc = as_contiguous(x).detach();
  Tensor wc = weight.defined() ? as_contiguous(weight).detach() : Tensor();
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  Tensor rstd = empty({p.rows}, x.dtype(), x.device());
  forward_on_device(y, rstd, xc, wc, p, name);

  if (autograd::needs_grad({x, weight})) {
    autograd::record(name, {x, weight}, {y}, [xc, wc, rstd, p, name](const TensorList& g, const Needs& needs) {
      Tensor dy = as_contiguous(g[0]);
      TensorList grads(2);
      if (needs[0]) {
        grads[0] = empty(xc.shape(), xc.dtype(), xc.device());
        backward_x_on_device(grads[0], dy, xc, rstd, wc, p, name);
      }
      if (needs[1]) {
        grads[1] = empty(wc.shape(), wc.dtype(), wc.device());
        backward_weight_on_device(grads[1], dy, xc, rstd, p, name);
      }
      return grads;
    });
  }
  return y;
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  return row_norm("rms_norm", x, weight, eps, /*mean=*/true);
}

Tensor l2_normalize(const Tensor& x, double eps) { return row_norm("l2_normalize", x, Tensor(), eps, /*mean=*/false); }

}  // namespace hqlt
