// The CUDA kernels of sum, mean and max: thin launchers around reduce_math.h, where the
// algorithm lives (one thread block per output element, reducing one row of the
// [n_out, count] matrix in a fixed tree order; no atomics).
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/optim.h"
#include "cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/reduce/reduce_cuda.h"
#include "ops/reduce/reduce_math.h"

namespace hqlt::detail {
namespace {

namespace rm = reduce_math;
namespace rb = row_blocks;

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) sum_kernel(rm::Args<T> a) {
  __shared__ T s[rb::kThreads];
  rm::sum_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void __launch_bounds__(rb::kThreads) max_kernel(rm::Args<T> a) {
  __shared__ rm::ArgMax<T> s[rb::kThreads];
  rm::max_row(rb::BlockPhases{}, s, int64_t(blockIdx.x), a);
}

template <typename T>
__global__ void max_backward_kernel(int64_t n_out, int64_t count, T* drows, const T* g, const int64_t* where) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x)
    rm::max_backward_at(o, drows, g, where, count);
}

template <typename T>
rm::Args<T> args_of(const Tensor& out, const Tensor& rows) {
  rm::Args<T> a;
  a.n_out = rows.size(0), a.count = rows.size(1);
  a.x = rows.data<T>();
  a.out = out.data<T>();
  HQLT_CHECK(a.n_out < (int64_t(1) << 31), "reduce: cuda kernels take fewer than 2^31 outputs, got ", a.n_out);
  return a;
}

}  // namespace

void reduce_sum_cuda(const Tensor& out, const Tensor& rows, bool scaled, double scale) {
  if (rows.size(0) == 0) return;
  dispatch_float(rows.dtype(), "sum", [&]<typename T>() {
    rm::Args<T> a = args_of<T>(out, rows);
    a.scaled = scaled, a.scale = T(scale);
    sum_kernel<T><<<unsigned(a.n_out), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("reduce sum_kernel");
  });
}

void reduce_max_cuda(const Tensor& out, const Tensor& where, const Tensor& rows) {
  if (rows.size(0) == 0) return;
  dispatch_float(rows.dtype(), "max", [&]<typename T>() {
    rm::Args<T> a = args_of<T>(out, rows);
    a.where = where.data<int64_t>();
    max_kernel<T><<<unsigned(a.n_out), rb::kThreads>>>(a);
    HQLT_CUDA_CHECK_LAUNCH("reduce max_kernel");
  });
}

void reduce_max_backward_cuda(const Tensor& drows, const Tensor& g, const Tensor& where) {
  fill(drows, 0.0);
  const int64_t n_out = drows.size(0), count = drows.size(1);
  if (n_out == 0) return;
  dispatch_float(drows.dtype(), "max", [&]<typename T>() {
    max_backward_kernel<T><<<cuda::blocks_for(n_out), cuda::kThreads>>>(n_out, count, drows.data<T>(), g.data<T>(),
                                                                         where.data<int64_t>());
    HQLT_CUDA_CHECK_LAUNCH("reduce max_backward_kernel");
  });
}

void reduce_scale_cuda(const Tensor& t, double scale) {
  const int64_t n = t.numel();
  if (n == 0) return;
  dispatch_float(t.dtype(), "mean", [&]<typename T>() {
    cuda::scale_in_place(t.data<T>(), n, T(scale));
  });
}

}  // namespace hqlt::detail
