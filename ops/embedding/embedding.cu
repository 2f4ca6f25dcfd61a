// The CUDA kernels of index_select, embedding and gather: one thread per output element, grid-
// stride. The backward's deterministic layout (row segments, no atomics) is explained in
// embedding_math.h.
#include <cuda_runtime.h>

#include <cstring>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "ops/embedding/embedding_cuda.h"

namespace hqlt::detail {
namespace {

template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* idx, RowGeometry g, int64_t n, T* out) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    out[e] = gathered(x, idx, g, e);
}

template <typename T>
__global__ void scatter_kernel(const T* dout, const int64_t* begin, const int64_t* order, RowGeometry g, int64_t n,
                               T* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dx[e] = scattered(dout, begin, order, g, e);
}

template <typename T>
__global__ void gather_element_kernel(const T* x, const int64_t* idx, GatherGeometry g, int64_t n, T* out) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    out[e] = gather_element(x, idx, g, e);
}

template <typename T>
__global__ void gather_grad_kernel(const T* dout, const int64_t* idx, GatherGeometry g, int64_t n, T* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dx[e] = gather_grad_element(dout, idx, g, e);
}

// A host vector of int64 as a fresh cuda tensor (from the caching allocator).
Tensor upload(const int64_t* p, int64_t n) {
  Tensor host = empty({n}, DType::i64);
  if (n > 0) std::memcpy(host.data<int64_t>(), p, size_t(n) * sizeof(int64_t));
  Tensor dev = empty({n}, DType::i64, Device::cuda);
  copy_into(dev, host);
  return dev;
}

}  // namespace

void gather_rows_cuda(const Tensor& x, const Tensor& idx_host, const RowGeometry& g, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  Tensor idx = upload(idx_host.data<int64_t>(), idx_host.numel());
  dispatch_float(x.dtype(), "embedding", [&]<typename T>() {
    gather_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(x.data<T>(), idx.data<int64_t>(), g, n, out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("embedding gather_kernel");
  });
}

void scatter_rows_cuda(const Tensor& dout, const Tensor& idx_host, const RowGeometry& g, int64_t skip_row,
                       const Tensor& dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  const RowSegments s = row_segments(idx_host.data<int64_t>(), g.picks, g.rows, skip_row);
  Tensor begin = upload(s.begin.data(), int64_t(s.begin.size()));
  Tensor order = upload(s.order.data(), int64_t(s.order.size()));
  dispatch_float(dout.dtype(), "embedding", [&]<typename T>() {
    scatter_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(dout.data<T>(), begin.data<int64_t>(),
                                                               order.data<int64_t>(), g, n, dx.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("embedding scatter_kernel");
  });
}

void gather_cuda(const Tensor& x, const Tensor& idx_host, const GatherGeometry& g, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  Tensor idx = upload(idx_host.data<int64_t>(), idx_host.numel());
  dispatch_float(x.dtype(), "gather", [&]<typename T>() {
    gather_element_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(x.data<T>(), idx.data<int64_t>(), g, n,
                                                                       out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("gather_element_kernel");
  });
}

void gather_backward_cuda(const Tensor& dout, const Tensor& idx_host, const GatherGeometry& g, const Tensor& dx) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  Tensor idx = upload(idx_host.data<int64_t>(), idx_host.numel());
  dispatch_float(dout.dtype(), "gather", [&]<typename T>() {
    gather_grad_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(dout.data<T>(), idx.data<int64_t>(), g, n,
                                                                   dx.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("gather_grad_kernel");
  });
}

}  // namespace hqlt::detail
