// The CUDA kernel of rope: one thread per (row b·T + t, pair i), looping over the heads so
// that cos φ and sin φ, which depend only on (t, i), are evaluated once per head group.
// Consecutive threads take consecutive i, so every head's reads and writes coalesce.
#include <cuda_runtime.h>

#include <cstring>

#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "ops/rope/rope_cuda.h"
#include "ops/rope/rope_math.h"

namespace hqlt::detail {
namespace {

template <typename T>
__global__ void rope_kernel(const T* in, const float* inv_freq, RopeShape s, T sign, int64_t n, T* out) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    rotate_pair_in_every_head(in, inv_freq, s, sign, e, out);
}

}  // namespace

void rope_rotate_cuda(const Tensor& in, const Tensor& out, const std::vector<float>& inv_freq,
                      int64_t position_offset, int direction) {
  const RopeShape s{in.size(0) * in.size(1), in.size(1), in.size(2), in.size(3), position_offset};
  const int64_t n = s.rows * (s.head_dim / 2);
  if (n == 0 || s.heads == 0) return;
  Tensor freq_host = empty({int64_t(inv_freq.size())}, DType::f32);
  std::memcpy(freq_host.data<float>(), inv_freq.data(), inv_freq.size() * sizeof(float));
  Tensor freq = empty(freq_host.shape(), DType::f32, Device::cuda);
  copy_into(freq, freq_host);
  dispatch_float(in.dtype(), "rope", [&]<typename T>() {
    rope_kernel<T><<<cuda::blocks_for(n), cuda::kThreads>>>(in.data<T>(), freq.data<float>(), s, T(direction), n,
                                                            out.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("rope_kernel");
  });
}

}  // namespace hqlt::detail
