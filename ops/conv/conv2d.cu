// The CUDA kernels of conv2d, one thread per output element (grid-stride), the math in
// conv2d_math.h, the same functions the CPU loops call. dw and db are reduced without
// atomics: partial sums per block of images, then a sum over the blocks in order.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "ops/conv/conv2d_cuda.h"

namespace hqlt::detail {
namespace {

template <typename T>
__global__ void forward_kernel(const T* x, const T* w, const T* b, Conv2dShape s, int64_t n, T* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    y[e] = conv2d_output(x, w, b, s, e);
}

template <typename T>
__global__ void input_grad_kernel(const T* dy, const T* w, Conv2dShape s, int64_t n, T* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dx[e] = conv2d_input_grad(dy, w, s, e);
}

template <typename T>
__global__ void weight_partial_kernel(const T* dy, const T* x, Conv2dShape s, int64_t n, T* partial) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    partial[e] = conv2d_weight_grad_partial(dy, x, s, e);
}

template <typename T>
__global__ void bias_partial_kernel(const T* dy, Conv2dShape s, int64_t n, T* partial) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    partial[e] = conv2d_bias_grad_partial(dy, s, e);
}

template <typename T>
__global__ void blocks_total_kernel(const T* partial, int64_t per_block, Conv2dShape s, T* out) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < per_block; e += int64_t(gridDim.x) * blockDim.x)
    out[e] = conv2d_blocks_total(partial, per_block, s, e);
}

// The partial sums of one gradient of `per_block` elements, then their totals into `out`.
template <typename T, typename Launch>
void reduce_over_images(const Conv2dShape& s, int64_t per_block, DType dtype, const Launch& launch_partials,
                        T* out) {
  const int64_t n = conv2d_image_blocks(s) * per_block;
  Tensor partial = empty({n}, dtype, Device::cuda);
  if (n > 0) launch_partials(n, partial.data<T>());  // no image: no block, and totals of 0
  blocks_total_kernel<T><<<cuda::blocks_for(per_block), cuda::kThreads>>>(partial.data<T>(), per_block, s, out);
  HQLT_CUDA_CHECK_LAUNCH("conv2d blocks_total_kernel");
}

}  // namespace

void conv2d_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dShape& s,
                         const Tensor& y) {
  const int64_t n = s.output_numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), "conv2d", [&]<typename T>() {
    forward_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(
        x.data<T>(), weight.data<T>(), bias.defined() ? bias.data<T>() : nullptr, s, n, y.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("conv2d forward_kernel");
  });
}

void conv2d_input_grad_cuda(const Tensor& dy, const Tensor& weight, const Conv2dShape& s, const Tensor& dx) {
  const int64_t n = s.input_numel();
  if (n == 0) return;
  dispatch_float(dy.dtype(), "conv2d", [&]<typename T>() {
    input_grad_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(dy.data<T>(), weight.data<T>(), s, n, dx.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("conv2d input_grad_kernel");
  });
}

void conv2d_param_grads_cuda(const Tensor& dy, const Tensor& x, const Conv2dShape& s, const Tensor& dw,
                             const Tensor& db) {
  dispatch_float(dy.dtype(), "conv2d", [&]<typename T>() {
    if (dw.defined())
      reduce_over_images<T>(s, s.weight_numel(), dy.dtype(), [&](int64_t n, T* partial) {
        weight_partial_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(dy.data<T>(), x.data<T>(), s, n, partial);
        HQLT_CUDA_CHECK_LAUNCH("conv2d weight_partial_kernel");
      }, dw.data<T>());
    if (db.defined())
      reduce_over_images<T>(s, s.out_channels, dy.dtype(), [&](int64_t n, T* partial) {
        bias_partial_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(dy.data<T>(), s, n, partial);
        HQLT_CUDA_CHECK_LAUNCH("conv2d bias_partial_kernel");
      }, db.data<T>());
  });
}

}  // namespace hqlt::detail
