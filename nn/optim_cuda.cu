#include "nn/optim_cuda.h"

#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/cuda/strided.h"
#include "engine/tensor.h"

namespace hqlt::nn {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

constexpr int kSumBlocks = 264;  // a fixed grid (2 per SM of an H100/H200), so the order is fixed

template <typename T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamWCoefficients<T> c) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adamw_element(p[i], g[i], m[i], v[i], c);
}

template <typename T>
__global__ void sum_of_squares_kernel(const T* x, int64_t n, double* block_sums) {
  __shared__ double partial[kThreads];
  double s = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += double(x[i]) * double(x[i]);
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = partial[0];
}

}  // namespace

template <typename T>
void adamw_update_cuda(T* p, const T* g, T* m, T* v, int64_t n, const AdamWCoefficients<T>& c) {
  if (n == 0) return;
  adamw_kernel<T><<<blocks_for(n), kThreads>>>(p, g, m, v, n, c);
  HQLT_CUDA_CHECK_LAUNCH("adamw_kernel");
}

template <typename T>
double sum_of_squares_cuda(const T* x, int64_t n) {
  if (n == 0) return 0;
  Tensor block_sums = empty({kSumBlocks}, DType::f64, Device::cuda);  // from the caching allocator
  sum_of_squares_kernel<T><<<kSumBlocks, kThreads>>>(x, n, block_sums.data<double>());
  HQLT_CUDA_CHECK_LAUNCH("sum_of_squares_kernel");
  std::vector<double> host(kSumBlocks);
  cuda::memcpy_device_to_host(host.data(), block_sums.data<double>(), kSumBlocks * sizeof(double));
  double total = 0;
  for (double s : host) total += s;
  return total;
}

template void adamw_update_cuda<float>(float*, const float*, float*, float*, int64_t,
                                       const AdamWCoefficients<float>&);
template void adamw_update_cuda<double>(double*, const double*, double*, double*, int64_t,
                                        const AdamWCoefficients<double>&);
template double sum_of_squares_cuda<float>(const float*, int64_t);
template double sum_of_squares_cuda<double>(const double*, int64_t);

}  // namespace hqlt::nn
