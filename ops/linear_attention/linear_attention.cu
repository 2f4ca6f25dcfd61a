// The CUDA kernels of linear_attention: thin launchers around linear_attention_blocks.h,
// where the algorithm lives (one thread block per (batch, head, slice of d_v columns)).
//
//   forward:   heads_z_kernel (reference_heads only: z before the blocks), forward_block
//              (O, and z under the time normaliser).
//   backward:  dz_kernel (dz = −(dO·O)/(z+eps) per row), backward_block (both sweeps: dV,
//              and each slice's share of ∂L/∂Φq, ∂L/∂Φk), finish_kernel (adds the shares, the
//              reference_heads normaliser's terms, and φ').
// The blocks run in cuda::launch_blocks's kernel (engine/cuda/blocks.cuh).
#include <cuda_runtime.h>

#include "engine/cuda/blocks.cuh"
#include "engine/cuda/check.h"
#include "engine/cuda/strided.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/linear_attention/linear_attention_blocks.h"
#include "ops/linear_attention/linear_attention_cuda.h"

namespace hqlt::linear_attention_detail {
namespace {

namespace lb = detail::linear_blocks;
using Normalizer = LinearAttentionNormalizer;

template <typename T>
__global__ void heads_z_kernel(lb::Plan p, const T* q, const T* k, T* z) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < p.rows(); r += int64_t(gridDim.x) * blockDim.x)
    z[r] = lb::heads_z_row(p, r, q, k);
}

template <typename T>
__global__ void dz_kernel(lb::Plan p, const T* out, const T* d_o, const T* z, T* dz) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < p.rows(); r += int64_t(gridDim.x) * blockDim.x)
    dz[r] = lb::dz_row(p, r, out, d_o, z);
}

// One thread per (token, column of d_k): neighbouring threads read neighbouring columns.
template <typename T>
__global__ void finish_kernel(lb::Plan p, const T* q, const T* k, const T* dz, const T* part_q, const T* part_k, T* dq,
                              T* dk) {
  const int64_t n = p.B * p.T * p.dk;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    lb::finish_column(p, e / p.dk, e % p.dk, q, k, dz, part_q, part_k, dq, dk);
}

lb::Plan plan_for(const Tensor& q, const Problem& d, Normalizer normalizer, double eps, bool backward) {
  const size_t word = q.dtype() == DType::f32 ? sizeof(float) : sizeof(double);
  const lb::Plan p = lb::make_plan(d.batch, d.time, d.heads, d.dk, d.dv, d.chunk, normalizer == Normalizer::time,
                                   eps, word, cuda::max_smem_per_block(), backward);
  HQLT_CHECK(p.C > 0, "linear_attention: d_k = ", d.dk, " in ", dtype_name(q.dtype()),
             " is too large for the CUDA kernel: its tiles do not fit in the ", cuda::max_smem_per_block(),
             " bytes of shared memory per block");
  return p;
}

template <typename T>
size_t tile_bytes(const lb::Plan& p, bool backward) {
  return lb::Tiles<T>::carve(nullptr, p, backward).words * sizeof(T);
}

}  // namespace

void forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& z,
                  const Problem& dims, Normalizer normalizer, double eps) {
  const lb::Plan p = plan_for(q, dims, normalizer, eps, false);
  if (p.rows() == 0) return;
  dispatch_float(q.dtype(), "linear_attention", [&]<typename T>() {
    if (!p.by_time) {
      heads_z_kernel<T><<<cuda::blocks_for(p.rows()), cuda::kThreads>>>(p, q.data<T>(), k.data<T>(), z.data<T>());
      HQLT_CUDA_CHECK_LAUNCH("linear_attention heads_z_kernel");
    }
    const lb::ForwardArgs<T> a{q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), z.data<T>()};
    cuda::launch_blocks<T, &lb::forward_block<T, cuda::BlockPhases>, lb::kThreads>(a, p, p.blocks(),
                                                                                  tile_bytes<T>(p, false),
                                                                                  "linear_attention forward");
  });
}

void backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& z, const Tensor& out,
                   const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv, const Problem& dims,
                   Normalizer normalizer, double eps) {
  const lb::Plan p = plan_for(q, dims, normalizer, eps, true);
  if (p.rows() == 0) return;
  Tensor dz = empty({p.rows()}, q.dtype(), Device::cuda);
  // With one slice its shares are the whole sums: finish_column then works in place in dq, dk
  // (each element read, then written, by one thread).
  const auto shares = [&](const Tensor& grad) {
    return p.slices == 1 ? grad : empty({int64_t(p.slices), p.rows(), p.dk}, q.dtype(), Device::cuda);
  };
  Tensor part_q = shares(dq), part_k = shares(dk);
  dispatch_float(q.dtype(), "linear_attention", [&]<typename T>() {
    dz_kernel<T><<<cuda::blocks_for(p.rows()), cuda::kThreads>>>(p, out.data<T>(), dout.data<T>(), z.data<T>(),
                                                                   dz.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("linear_attention dz_kernel");
    const lb::BackwardArgs<T> a{q.data<T>(),  k.data<T>(),      v.data<T>(),     z.data<T>(),     dz.data<T>(),
                                dout.data<T>(), dv.data<T>(), part_q.data<T>(), part_k.data<T>()};
    cuda::launch_blocks<T, &lb::backward_block<T, cuda::BlockPhases>, lb::kThreads>(a, p, p.blocks(),
                                                                                   tile_bytes<T>(p, true),
                                                                                   "linear_attention backward");
    finish_kernel<T><<<cuda::blocks_for(p.B * p.T * p.dk), cuda::kThreads>>>(
        p, q.data<T>(), k.data<T>(), dz.data<T>(), part_q.data<T>(), part_k.data<T>(), dq.data<T>(), dk.data<T>());
    HQLT_CUDA_CHECK_LAUNCH("linear_attention finish_kernel");
  });
}

}  // namespace hqlt::linear_attention_detail
