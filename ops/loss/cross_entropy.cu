// The CUDA kernels of cross_entropy: thin launchers around cross_entropy_math.h, where the
// algorithm lives.
//
//   forward:   row_kernel (one thread block per row) writes lse_i and w_i · nll_i;
//              sum_kernel (one block) adds the rows in a fixed order, in f64.
//   backward:  dlogits_kernel (one thread per logit), dmask_kernel (one per row).
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/loss/cross_entropy_cuda.h"
#include "ops/loss/cross_entropy_math.h"

namespace hqlt::detail {
namespace {

namespace cm = ce_math;
namespace rb = row_blocks;

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) row_kernel(cm::Args<T> a) {
  __shared__ T s_max[rb::kThreads], s_sum[rb::kThreads];
  cm::forward_row(rb::BlockPhases{}, s_max, s_sum, int64_t(blockIdx.x), a);
}

__global__ void __launch_bounds__(rb::kThreads) sum_kernel(int64_t n, const double* weighted_nll, double* out) {
  __shared__ double s[rb::kThreads];
  cm::sum_rows(rb::BlockPhases{}, s, n, weighted_nll, out);
}

template <typename T>
__global__ void dlogits_kernel(cm::Args<T> a) {
  const int64_t total = a.n * a.v;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x)
    cm::dlogit_at(e, a);
}

template <typename T>
__global__ void dmask_kernel(cm::Args<T> a) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x)
    cm::dmask_at(i, a);
}

template <typename T>
cm::Args<T> args_of(const Tensor& logits, const Tensor& targets, const Tensor& lse, int64_t ignore_index) {
  cm::Args<T> a;
  a.n = logits.size(0), a.v = logits.size(1), a.ignore_index = ignore_index;
  a.z = logits.data<T>();
  a.y = targets.data<int64_t>();
  a.lse = lse.data<T>();
  return a;
}

}  // namespace

double cross_entropy_forward_cuda(const Tensor& lse, const Tensor& logits, const Tensor& targets,
                                  const Tensor& weights, int64_t ignore_index) {
  const int64_t n = logits.size(0);
  if (n == 0) return 0.0;
  HQLT_CHECK(n < (int64_t(1) << 31), "cross_entropy: cuda kernels take fewer than 2^31 rows, got ", n);
  Tensor weighted_nll = empty({n}, DType::f64, Device::cuda), total = empty({1}, DType::f64, Device::cuda);
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    cm::Args<T> a = args_of<T>(logits, targets, lse, ignore_index);
    a.w = weights.data<double>();
    a.weighted_nll = weighted_nll.data<double>();
    row_kernel<T><<<unsigned(n), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("cross_entropy row_kernel");
  });
  sum_kernel<<<1, rb::kThreads>>>(n, weighted_nll.data<double>(), total.data<double>());
  HQLT_CUDA_CHECK_LAUNCH("cross_entropy sum_kernel");
  return total.item();
}

void cross_entropy_logits_grad_cuda(const Tensor& dlogits, const Tensor& g, const Tensor& logits,
                                    const Tensor& targets, const Tensor& weights, const Tensor& lse,
                                    double total_weight) {
  if (dlogits.numel() == 0) return;
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    cm::Args<T> a = args_of<T>(logits, targets, lse, 0);
    a.w = weights.data<double>();
    a.g = g.data<T>();
    a.total_weight = total_weight;
    a.dz = dlogits.data<T>();
    dlogits_kernel<T><<<cuda::blocks_for(a.n * a.v), cuda::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("cross_entropy dlogits_kernel");
  });
}

void cross_entropy_mask_grad_cuda(const Tensor& dmask, const Tensor& g, const Tensor& logits, const Tensor& targets,
                                  const Tensor& lse, int64_t ignore_index, double total_weight, double loss) {
  if (dmask.numel() == 0) return;
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    cm::Args<T> a = args_of<T>(logits, targets, lse, ignore_index);
    a.g = g.data<T>();
    a.total_weight = total_weight, a.loss = loss;
    a.dmask = dmask.data<T>();
    dmask_kernel<T><<<cuda::blocks_for(a.n), cuda::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("cross_entropy dmask_kernel");
  });
}

}  // namespace hqlt::detail
