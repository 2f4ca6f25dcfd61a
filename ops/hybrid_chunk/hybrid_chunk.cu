// The CUDA kernels of hybrid_chunk: thin launchers around hybrid_chunk_blocks.h, where the
// algorithm lives (FW: one thread block per (batch, head, slice of d_v columns); KV: one per
// (batch, head, attention chunk)). All on the default stream, in this order:
//
//   forward:   kv_forward_block writes o_kv and LSE; fw_forward_block o_fw and the final
//              state.
//   backward:  fw_forward_block again, keeping only S_n before every kernel chunk
//              ([B·H, N, d_k, d_v] in a workspace); kv_backward_block, which writes dq_kv,
//              dk_kv and all of dv; fw_backward_block, which adds the FW part to dv and writes
//              the initial state's gradient and each slice's share of dQ̂, dK̂, dβ;
//              finish_kernel, which adds the shares and applies the ℓ2 backward.
// The blocks run in cuda::launch_blocks's kernel (engine/cuda/blocks.cuh).
#include <cuda_runtime.h>

#include "engine/cuda/blocks.cuh"
#include "engine/cuda/check.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/delta_rule/delta_rule_finish.cuh"
#include "ops/hybrid_chunk/hybrid_chunk_blocks.h"
#include "ops/hybrid_chunk/hybrid_chunk_cuda.h"

namespace hqlt::hybrid_chunk_detail {
namespace {

namespace hb = detail::hybrid_blocks;
namespace db = detail::delta_blocks;

size_t word_bytes(DType dt) { return dt == DType::f32 ? sizeof(float) : sizeof(double); }

hb::FwPlan fw_plan(const Problem& p, DType dt, bool backward) {
  const hb::FwPlan f = hb::make_fw_plan(p.batch, p.time, p.heads, p.dk, p.dv, p.fw_block, p.l2, p.scale,
                                        word_bytes(dt), cuda::max_smem_per_block(), backward);
  HQLT_CHECK(f.p.C > 0, "hybrid_chunk: d_k = ", p.dk, " in ", dtype_name(dt),
             " is too large for the CUDA kernel: its FW tiles do not fit in the ", cuda::max_smem_per_block(),
             " bytes of shared memory per block");
  return f;
}

hb::KvPlan kv_plan(const Problem& p, DType dt, bool backward) {
  const hb::KvPlan k = hb::make_kv_plan(p.batch, p.time, p.heads, p.dk, p.dv, p.kv_chunk, p.scale, word_bytes(dt),
                                        cuda::max_smem_per_block(), backward);
  HQLT_CHECK(k.C > 0, "hybrid_chunk: chunk_size = ", p.kv_chunk, " with d_k = ", p.dk, " in ", dtype_name(dt),
             " is too large for the CUDA kernel: its attention tiles do not fit in the ", cuda::max_smem_per_block(),
             " bytes of shared memory per block");
  return k;
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Each block function runs in cuda::launch_blocks's kernel with its tiles' bytes of shared
// memory (the FW forward with the backward's when it is the backward's recompute).
template <typename T>
void launch_fw_forward(const hb::FwForwardArgs<T>& a, const hb::FwPlan& f, bool backward) {
  cuda::launch_blocks<T, &hb::fw_forward_block<T, cuda::BlockPhases>, db::kThreads>(
      a, f, f.p.blocks(), hb::FwTiles<T>::carve(nullptr, f, backward).words * sizeof(T), "hybrid_chunk fw_forward");
}

}  // namespace

void forward_cuda(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv,
                  const Tensor& final_state, const Tensor& lse) {
  const DType dt = in.q_fw.dtype();
  const hb::FwPlan f = fw_plan(p, dt, false);
  const hb::KvPlan k = kv_plan(p, dt, false);
  dispatch_float(dt, "hybrid_chunk", [&]<typename T>() {
    const hb::KvForwardArgs<T> kv{in.q_kv.data<T>(), in.k_kv.data<T>(), in.v.data<T>(), o_kv.data<T>(),
                                  lse.data<T>()};
    cuda::launch_blocks<T, &hb::kv_forward_block<T, cuda::BlockPhases>, db::kThreads>(
        kv, k, k.blocks(), hb::KvTiles<T>::carve(nullptr, k, false).words * sizeof(T), "hybrid_chunk kv_forward");
    launch_fw_forward(hb::FwForwardArgs<T>{in.q_fw.data<T>(), in.k_fw.data<T>(), in.v.data<T>(), in.beta.data<T>(),
                                           data_or_null<T>(in.initial_state), o_fw.data<T>(),
                                           final_state.data<T>(), nullptr},
                      f, false);
  });
}

Grads backward_cuda(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw,
                    const Tensor& d_o_kv, const Tensor& d_final) {
  const DType dt = in.q_fw.dtype();
  const hb::FwPlan f = fw_plan(p, dt, true);
  const hb::KvPlan k = kv_plan(p, dt, true);
  const db::Plan& fp = f.p;
  Grads g;
  g.q_fw = empty(in.q_fw.shape(), dt, Device::cuda), g.k_fw = empty(in.k_fw.shape(), dt, Device::cuda);
  g.q_kv = empty(in.q_kv.shape(), dt, Device::cuda), g.k_kv = empty(in.k_kv.shape(), dt, Device::cuda);
  g.v = empty(in.v.shape(), dt, Device::cuda), g.beta = empty(in.beta.shape(), dt, Device::cuda);
  g.initial_state = empty({p.batch, p.heads, p.dk, p.dv}, dt, Device::cuda);
  if (fp.blocks() == 0) return g;
  Tensor states = empty({p.batch * p.heads, int64_t(fp.chunks), p.dk, p.dv}, dt, Device::cuda);
  Tensor part_q = empty({int64_t(fp.slices), fp.rows(), p.dk}, dt, Device::cuda);
  Tensor part_k = empty({int64_t(fp.slices), fp.rows(), p.dk}, dt, Device::cuda);
  Tensor part_beta = empty({int64_t(fp.slices), fp.rows()}, dt, Device::cuda);
  dispatch_float(dt, "hybrid_chunk", [&]<typename T>() {
    const T *q_fw = in.q_fw.data<T>(), *k_fw = in.k_fw.data<T>(), *v = in.v.data<T>(), *beta = in.beta.data<T>();
    if (fp.chunks > 0)
      launch_fw_forward(hb::FwForwardArgs<T>{q_fw, k_fw, v, beta, data_or_null<T>(in.initial_state), nullptr, nullptr,
                                             states.data<T>()},
                        f, true);
    // The KV part first: it writes all of dv, to which the FW part then adds.
    const hb::KvBackwardArgs<T> kv{in.q_kv.data<T>(), in.k_kv.data<T>(),       v,
                                   lse.data<T>(),     data_or_null<T>(d_o_kv), g.q_kv.data<T>(),
                                   g.k_kv.data<T>(),  g.v.data<T>()};
    cuda::launch_blocks<T, &hb::kv_backward_block<T, cuda::BlockPhases>, db::kThreads>(
        kv, k, k.blocks(), hb::KvTiles<T>::carve(nullptr, k, true).words * sizeof(T), "hybrid_chunk kv_backward");
    const hb::FwBackwardArgs<T> a{q_fw,           k_fw,          v,
                                  beta,           states.data<T>(), data_or_null<T>(d_o_fw),
                                  data_or_null<T>(d_final), g.v.data<T>(), g.initial_state.data<T>(),
                                  part_q.data<T>(), part_k.data<T>(), part_beta.data<T>()};
    cuda::launch_blocks<T, &hb::fw_backward_block<T, cuda::BlockPhases>, db::kThreads>(
        a, f, fp.blocks(), hb::FwTiles<T>::carve(nullptr, f, true).words * sizeof(T), "hybrid_chunk fw_backward");
    db::launch_finish(fp, q_fw, k_fw, part_q.data<T>(), part_k.data<T>(), part_beta.data<T>(), g.q_fw.data<T>(),
                      g.k_fw.data<T>(), g.beta.data<T>());
  });
  return g;
}

}  // namespace hqlt::hybrid_chunk_detail
