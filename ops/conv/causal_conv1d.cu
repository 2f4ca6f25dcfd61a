// The CUDA kernels of causal_conv1d, one thread per output element (grid-stride), the math
// in causal_conv1d_math.h. Channels are the fastest index, so neighbouring threads read
// neighbouring channels of one row. dw is reduced in two kernels without atomics: partial
// sums per block of 128 rows, then a sum over the blocks in order (the CPU's order).
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "ops/conv/causal_conv1d_cuda.h"

namespace hqlt::detail {
namespace {

template <typename T>
__global__ void tap_sum_kernel(const T* in, const T* taps, ConvShape s, bool anti_causal, int64_t n, T* out) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    out[e] = shifted_tap_value(in, taps, s, anti_causal, e);
}

template <typename T>
__global__ void dw_partial_kernel(const T* dy, const T* x, ConvShape s, int64_t n, T* partial) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    partial[e] = dw_block_partial(dy, x, s, e);
}

// e = j·Ch + c reads the partials with unit stride; dw is [Ch, K], so it is written at c·K + j.
template <typename T>
__global__ void dw_total_kernel(const T* partial, ConvShape s, int64_t n, T* dw) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dw[(e % s.channels) * s.taps + e / s.channels] = dw_total(partial, s, e);
}

}  // namespace

void conv_shifted_tap_sum_cuda(const Tensor& in, const Tensor& taps, const ConvShape& s, bool anti_causal,
                               const Tensor& out) {
  const int64_t n = s.rows() * s.channels;
  if (n == 0) return;
  dispatch_float(in.dtype(), "causal_conv1d", [&]<typename T>() {
    tap_sum_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(in.data<T>(), taps.data<T>(), s, anti_causal, n,
                                                               out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("causal_conv1d tap_sum_kernel");
  });
}

void conv_weight_gradient_cuda(const Tensor& dy, const Tensor& x, const ConvShape& s, const Tensor& dw) {
  const int64_t n = s.channels * s.taps;
  if (n == 0) return;
  const int64_t n_partial = conv_row_blocks(s) * n;
  Tensor partial = empty({n_partial}, dy.dtype(), Device::cuda);
  dispatch_float(dy.dtype(), "causal_conv1d", [&]<typename T>() {
    if (n_partial > 0) {
      dw_partial_kernel<T><<<cuda::blocks_for(n_partial), cuda::kThreads>>>(dy.data<T>(), x.data<T>(), s, n_partial,
                                                                           partial.data<T>());
      HQLT_CUDA_CHECK_LAUNCH("causal_conv1d dw_partial_kernel");
    }
    dw_total_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(partial.data<T>(), s, n, dw.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("causal_conv1d dw_total_kernel");
  });
}

}  // namespace hqlt::detail
