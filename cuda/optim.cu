#include "cuda/optim.h"

#include <vector>

#include "cuda/check.h"
#include "cuda/runtime.h"
#include "cuda/strided.h"
#include "engine/tensor.h"

namespace hqlt::cuda {
namespace {

constexpr int kSumBlocks = 264;  // a fixed grid (2 per SM of an H100/H200), so the order is fixed

template <typename T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, nn::AdamWCoefficients<T> c) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    nn::adamw_element(p[i], g[i], m[i], v[i], c);
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

template <typename T>
__global__ void scale_kernel(T* x, int64_t n, T c) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= c;
}

}  // namespace

template <typename T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const nn::AdamWCoefficients<T>& c) {
  if (n == 0) return;
  adamw_kernel<T><<<blocks_for(n), kThreads>>>(p, g, m, v, n, c);
  HQLT_CUDA_CHECK_LAUNCH("adamw_kernel");
}

template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  if (n == 0) return 0;
  Tensor block_sums = empty({kSumBlocks}, DType::f64, Device::cuda);  // from the caching allocator
  sum_of_squares_kernel<T><<<kSumBlocks, kThreads>>>(x, n, block_sums.data<double>());
  HQLT_CUDA_CHECK_LAUNCH("sum_of_squares_kernel");
  std::vector<double> host(kSumBlocks);
  memcpy_device_to_host(host.data(), block_sums.data<double>(), kSumBlocks * sizeof(double));
  double total = 0;
  for (double s : host) total += s;
  return total;
}

template <typename T>
void scale_in_place(T* x, int64_t n, T c) {
  if (n == 0) return;
  scale_kernel<T><<<blocks_for(n), kThreads>>>(x, n, c);
  HQLT_CUDA_CHECK_LAUNCH("scale_kernel");
}

template void adamw_update<float>(float*, const float*, float*, float*, int64_t, const nn::AdamWCoefficients<float>&);
template void adamw_update<double>(double*, const double*, double*, double*, int64_t,
                                   const nn::AdamWCoefficients<double>&);
template double sum_of_squares<float>(const float*, int64_t);
template double sum_of_squares<double>(const double*, int64_t);
template void scale_in_place<float>(float*, int64_t, float);
template void scale_in_place<double>(double*, int64_t, double);

}  // namespace hqlt::cuda
