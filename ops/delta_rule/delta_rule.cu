// The CUDA kernels of delta_rule: thin launchers around delta_rule_blocks.h, where the
// algorithm lives (one thread block per (batch, head, slice of d_v columns)).
//
//   forward:   forward_block writes O and the final state.
//   backward:  forward_block again, keeping only S_n before every chunk ([B·H, N, d_k, d_v]
//              in a workspace); backward_block, the reverse pass, which writes dV, the
//              initial state's gradient and each slice's share of dQ̂, dK̂, dβ; finish_kernel,
//              which adds the shares and applies the ℓ2 backward.
// The blocks run in cuda::launch_blocks's kernel (engine/cuda/blocks.cuh).
#include <cuda_runtime.h>

#include "engine/cuda/blocks.cuh"
#include "engine/cuda/check.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "ops/delta_rule/delta_rule_blocks.h"
#include "ops/delta_rule/delta_rule_cuda.h"
#include "ops/delta_rule/delta_rule_finish.cuh"

namespace hqlt::detail {
namespace {

namespace db = delta_blocks;

db::Plan plan_for(const Tensor& q, const Tensor& v, int64_t chunk_size, bool l2, bool backward) {
  const size_t word = q.dtype() == DType::f32 ? sizeof(float) : sizeof(double);
  const db::Plan p = db::make_plan(q.size(0), q.size(1), q.size(2), q.size(3), v.size(3), chunk_size, l2, word,
                                   cuda::max_smem_per_block(), backward);
  HQLT_CHECK(p.C > 0, "delta_rule: d_k = ", q.size(3), " in ", dtype_name(q.dtype()),
             " is too large for the CUDA kernel: its tiles do not fit in the ", cuda::max_smem_per_block(),
             " bytes of shared memory per block");
  return p;
}

template <typename T>
size_t tile_bytes(const db::Plan& p, bool backward) {
  return db::Tiles<T>::carve(nullptr, p, backward).words * sizeof(T);
}

template <typename T>
void launch_forward(const db::ForwardArgs<T>& a, const db::Plan& p) {
  // The forward's tiles fit any plan, the backward's too.
  cuda::launch_blocks<T, &db::forward_block<T, cuda::BlockPhases>, db::kThreads>(a, p, p.blocks(),
                                                                                 tile_bytes<T>(p, false),
                                                                                 "delta_rule forward");
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void delta_rule_forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                             const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk, const Tensor& o,
                             const Tensor& final_state) {
  const db::Plan p = plan_for(q, v, chunk_size, l2norm_qk, false);
  if (p.blocks() == 0) return;
  dispatch_float(q.dtype(), "delta_rule", [&]<typename T>() {
    const db::ForwardArgs<T> a{q.data<T>(), k.data<T>(), v.data<T>(), beta.data<T>(), data_or_null<T>(initial_state),
                               o.data<T>(), final_state.data<T>(), nullptr};
    launch_forward(a, p);
  });
}

DeltaRuleGrads delta_rule_backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                        const Tensor& initial_state, const Tensor& d_o, const Tensor& d_final,
                                        int64_t chunk_size, bool l2norm_qk) {
  const db::Plan p = plan_for(q, v, chunk_size, l2norm_qk, true);
  DeltaRuleGrads g;
  g.dq = empty(q.shape(), q.dtype(), Device::cuda);
  g.dk = empty(k.shape(), k.dtype(), Device::cuda);
  g.dv = empty(v.shape(), v.dtype(), Device::cuda);
  g.dbeta = empty(beta.shape(), beta.dtype(), Device::cuda);
  g.dinitial_state = empty({p.B, p.H, p.dk, p.dv}, q.dtype(), Device::cuda);
  if (p.blocks() == 0) return g;
  Tensor states = empty({p.B * p.H, int64_t(p.chunks), p.dk, p.dv}, q.dtype(), Device::cuda);
  Tensor part_q = empty({int64_t(p.slices), p.rows(), p.dk}, q.dtype(), Device::cuda);
  Tensor part_k = empty({int64_t(p.slices), p.rows(), p.dk}, q.dtype(), Device::cuda);
  Tensor part_beta = empty({int64_t(p.slices), p.rows()}, q.dtype(), Device::cuda);
  dispatch_float(q.dtype(), "delta_rule", [&]<typename T>() {
    const T* s0 = data_or_null<T>(initial_state);
    launch_forward(db::ForwardArgs<T>{q.data<T>(), k.data<T>(), v.data<T>(), beta.data<T>(), s0, nullptr, nullptr,
                                      states.data<T>()},
                   p);
    const db::BackwardArgs<T> a{q.data<T>(),       k.data<T>(),         v.data<T>(),
                                beta.data<T>(),    states.data<T>(),    data_or_null<T>(d_o),
                                data_or_null<T>(d_final), g.dv.data<T>(), g.dinitial_state.data<T>(),
                                part_q.data<T>(),  part_k.data<T>(),    part_beta.data<T>()};
    cuda::launch_blocks<T, &db::backward_block<T, cuda::BlockPhases>, db::kThreads>(
        a, p, p.blocks(), tile_bytes<T>(p, true), "delta_rule backward");
    db::launch_finish(p, q.data<T>(), k.data<T>(), part_q.data<T>(), part_k.data<T>(), part_beta.data<T>(),
                      g.dq.data<T>(), g.dk.data<T>(), g.dbeta.data<T>());
  });
  return g;
}

}  // namespace hqlt::detail
