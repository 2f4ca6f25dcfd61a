#include "nn/clip.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "engine/strided_loop.h"
#include "nn/optim_cuda.h"
#include "ops/reduce/reduce_cuda.h"

namespace hqlt::nn {
namespace {

constexpr int64_t kBlock = int64_t(1) << 16;

// Σ x², summed per block of kBlock elements, then the block sums in order.
template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(size_t(blocks), 0.0);
#pragma omp parallel for schedule(static) if (should_parallelize(n))
  for (int64_t b = 0; b < blocks; ++b) {
    double s = 0;
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int64_t i = b * kBlock; i < end; ++i) s += double(x[i]) * double(x[i]);
    partial[size_t(b)] = s;
  }
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0;
  for (const Tensor& p : params) {
    HQLT_CHECK(p.defined(), "grad_norm: a parameter is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) g = clone_contiguous(g);
    total += dispatch_float(g.dtype(), "grad_norm", [&]<typename T>() {
      if constexpr (kWithCuda) {
        if (g.device() == Device::cuda) return sum_of_squares_cuda(g.data<T>(), g.numel());
      }
      return sum_of_squares(g.data<T>(), g.numel());
    });
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  HQLT_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  const double norm = grad_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (!std::isfinite(norm) || coef >= 1.0) return norm;
  NoGrad no_grad;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
#ifdef HQLT_HAS_CUDA  // not `if constexpr`: the templated lambda below is instantiated even there
    if (g.device() == Device::cuda) {
      Tensor dense = g.is_contiguous() ? g : clone_contiguous(g);
      dispatch_float(g.dtype(), "clip_grad_norm", [&]<typename T>() {
        detail::scale_in_place_cuda(dense.data<T>(), dense.numel(), T(coef));
      });
      if (!g.is_contiguous()) copy_into(g, dense);
      continue;
    }
#endif
    dispatch_float(g.dtype(), "clip_grad_norm", [&]<typename T>() {
      T* d = g.data<T>();
      const T c = T(coef);
      strided_loop<1>(g.shape(), {g.strides()}, [&](auto off, int64_t n, auto step) {
        for (int64_t j = 0; j < n; ++j) d[off[0] + j * step[0]] *= c;
      });
    });
  }
  return norm;
}

}  // namespace hqlt::nn
