// The CUDA kernels of softmax and log_softmax: thin launchers around softmax_math.h, where
// the row algorithm lives (one thread block of row_blocks::kThreads per row; a row along a
// dim other than the last is read with its stride).
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/softmax/softmax_cuda.h"

namespace hqlt::detail {
namespace {

namespace sm = softmax_math;
namespace rb = row_blocks;

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) forward_kernel(sm::Args<T> a) {
  __shared__ T s_max[rb::kThreads], s_sum[rb::kThreads];
  sm::forward_row(rb::BlockPhases{}, s_max, s_sum, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) backward_kernel(sm::Args<T> a) {
  __shared__ T s_acc[rb::kThreads];
  sm::backward_row(rb::BlockPhases{}, s_acc, int64_t(blockIdx.x), a);
}

// One block per row; gridDim.x allows 2^31 − 1 blocks.
unsigned row_grid(const sm::Rows& rows) {
  HQLT_CHECK(rows.count < (int64_t(1) << 31), "softmax: cuda kernels take fewer than 2^31 rows, got ", rows.count);
  return unsigned(rows.count);
}

}  // namespace

void softmax_forward_cuda(const Tensor& y, const Tensor& x, const sm::Rows& rows, bool log) {
  if (rows.count == 0 || rows.n == 0) return;
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    sm::Args<T> a;
    a.rows = rows, a.log = log, a.x = x.data<T>(), a.y = y.data<T>();
    forward_kernel<T><<<row_grid(rows), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("softmax forward_kernel");
  });
}

void softmax_backward_cuda(const Tensor& dx, const Tensor& dy, const Tensor& y, const sm::Rows& rows, bool log) {
  if (rows.count == 0 || rows.n == 0) return;
  dispatch_float(y.dtype(), "softmax", [&]<typename T>() {
    sm::Args<T> a;
    a.rows = rows, a.log = log, a.y = y.data<T>(), a.dy = dy.data<T>(), a.dx = dx.data<T>();
    backward_kernel<T><<<row_grid(rows), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("softmax backward_kernel");
  });
}

}  // namespace hqlt::detail
