// The CUDA kernels of rms_norm and l2_normalize: thin launchers around norm_math.h, where
// the row algorithm lives (one thread block of row_blocks::kThreads per row).
//
//   forward:    row_forward_kernel writes y and r.
//   backward:   row_backward_kernel writes dx; dweight is summed over groups of rows
//               (weight_partial_kernel, one thread per (group, column)), then over the
//               groups in order (weight_finish_kernel) — deterministic, no atomics.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/norm/norm_cuda.h"
#include "ops/norm/norm_math.h"

namespace hqlt::detail {
namespace {

namespace nm = norm_math;
namespace rb = row_blocks;

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) row_forward_kernel(nm::Args<T> a) {
  __shared__ T s[rb::kThreads];
  nm::forward_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) row_backward_kernel(nm::Args<T> a) {
  __shared__ T s[rb::kThreads];
  nm::backward_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void weight_partial_kernel(T* partial, int64_t groups, nm::Args<T> a) {
  const int64_t n = groups * a.d;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    nm::weight_partial(partial, e / a.d, e % a.d, a);
}

template <typename T>
__global__ void weight_finish_kernel(T* dw, const T* partial, int64_t groups, int64_t d) {
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < d; k += int64_t(gridDim.x) * blockDim.x)
    nm::weight_finish(dw, partial, groups, k, d);
}

// The arguments common to every kernel, from the tensors.
template <typename T>
nm::Args<T> args_of(const Tensor& x, const Tensor& rstd, const Tensor& w, double divisor) {
  nm::Args<T> a;
  a.d = x.size(-1);
  a.rows = rstd.numel();
  a.inv_c = T(1 / divisor);
  a.x = x.data<T>();
  a.w = w.defined() ? w.data<T>() : nullptr;
  a.rstd = rstd.data<T>();
  return a;
}

// One block per row; gridDim.x allows 2^31 − 1 blocks, far more rows than a model has.
unsigned row_grid(int64_t rows) {
  HQLT_CHECK(rows < (int64_t(1) << 31), "norm: cuda kernels take fewer than 2^31 rows, got ", rows);
  return unsigned(rows);
}

}  // namespace

void norm_forward_cuda(const Tensor& y, const Tensor& rstd, const Tensor& x, const Tensor& w, double divisor,
                       double eps) {
  if (rstd.numel() == 0) return;
  dispatch_float(x.dtype(), "norm", [&]<typename T>() {
    nm::Args<T> a = args_of<T>(x, rstd, w, divisor);
    a.eps = T(eps);
    a.y = y.data<T>();
    row_forward_kernel<T><<<row_grid(a.rows), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("norm row_forward_kernel");
  });
}

void norm_backward_x_cuda(const Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& rstd, const Tensor& w,
                          double divisor) {
  if (rstd.numel() == 0) return;
  dispatch_float(x.dtype(), "norm", [&]<typename T>() {
    nm::Args<T> a = args_of<T>(x, rstd, w, divisor);
    a.dy = dy.data<T>();
    a.dx = dx.data<T>();
    row_backward_kernel<T><<<row_grid(a.rows), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("norm row_backward_kernel");
  });
}

void norm_backward_weight_cuda(const Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& rstd) {
  const int64_t d = x.size(-1), rows = rstd.numel();
  if (rows == 0) return fill(dw, 0.0);  // no rows: dweight = 0
  const int64_t groups = (rows + nm::kGroupRows - 1) / nm::kGroupRows;
  Tensor partial = empty({groups, d}, x.dtype(), Device::cuda);
  dispatch_float(x.dtype(), "norm", [&]<typename T>() {
    nm::Args<T> a = args_of<T>(x, rstd, Tensor(), 1.0);
    a.dy = dy.data<T>();
    weight_partial_kernel<T><<<cuda::blocks_for(groups * d), cuda::kThreads>>>(partial.data<T>(), groups, a);
    HQLT_CUDA_CHECK_LAUNCH("norm weight_partial_kernel");
    weight_finish_kernel<T><<<cuda::blocks_for(d), cuda::kThreads>>>(dw.data<T>(), partial.data<T>(), groups, d);
    HQLT_CUDA_CHECK_LAUNCH("norm weight_finish_kernel");
  });
}

}  // namespace hqlt::detail
