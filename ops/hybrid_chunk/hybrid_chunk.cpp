// hybrid_chunk: argument checks, the calls into the kernels, and the tape entry.
// The math is in hybrid_chunk.h and NOTES.md; the kernels in hybrid_chunk_cpu.cpp and, for
// cuda inputs, hybrid_chunk.cu.
#include "ops/hybrid_chunk/hybrid_chunk.h"

#include <cmath>
#include <utility>

#include "engine/autograd.h"
#include "engine/device.h"
#include "ops/hybrid_chunk/hybrid_chunk_cuda.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace hybrid_chunk_detail {
namespace {

// The CPU kernels and the reference take any block length; the GPU kernels tile the chunk
// with power-of-two thread blocks (hybrid_chunk_cuda.h), so on the GPU it must be one.
void check_block_size(const char* op, const char* arg, int64_t size, Device device) {
  if (device == Device::cuda) {
    ops::check_power_of_two(op, arg, size, 8, 128);
    return;
  }
  HQLT_CHECK(size >= 1, op, ": argument '", arg, "': expected a positive block length, got ", size);
}

Shape leading(const Tensor& t) { return {t.size(0), t.size(1), t.size(2)}; }

}  // namespace

Problem check_arguments(const char* op, const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv,
                        const Tensor& k_kv, const Tensor& v, const Tensor& beta, const Tensor& initial_state,
                        int64_t chunk_size, int64_t fw_block_size, bool l2norm_qk, double scale) {
  ops::check_floating(op, "q_fw", q_fw);
  ops::check_same_kind(op, "q_fw", q_fw, "k_fw", k_fw);
  ops::check_same_kind(op, "q_fw", q_fw, "q_kv", q_kv);
  ops::check_same_kind(op, "q_fw", q_fw, "k_kv", k_kv);
  ops::check_same_kind(op, "q_fw", q_fw, "v", v);
  ops::check_same_kind(op, "q_fw", q_fw, "beta", beta);
  if (initial_state.defined()) ops::check_same_kind(op, "q_fw", q_fw, "initial_state", initial_state);
  ops::check_device_built(op, q_fw);

  ops::check_rank(op, "q_fw", q_fw, 4);
  ops::check_rank(op, "k_fw", k_fw, 4);
  ops::check_rank(op, "q_kv", q_kv, 4);
  ops::check_rank(op, "k_kv", k_kv, 4);
  ops::check_rank(op, "v", v, 4);
  ops::check_rank(op, "beta", beta, 3);
  const Shape bth = leading(q_fw);
  const int64_t dk = q_fw.size(3), dv = v.size(3);
  HQLT_CHECK(dk >= 1, op, ": argument 'q_fw': expected shape [B, T, H, d_k] with d_k >= 1, got ",
             shape_str(q_fw.shape()));
  const std::pair<const char*, const Tensor*> keys[] = {{"k_fw", &k_fw}, {"q_kv", &q_kv}, {"k_kv", &k_kv}};
  for (const auto& [name, t] : keys) {
    HQLT_CHECK(leading(*t) == bth, op, ": argument '", name, "': expected [B, T, H] = ", shape_str(bth),
               " (as 'q_fw'), got shape ", shape_str(t->shape()));
    HQLT_CHECK(t->size(3) == dk, op, ": argument '", name, "': expected d_k = ", dk, " (q_fw's last dim), got shape ",
               shape_str(t->shape()));
  }
  HQLT_CHECK(leading(v) == bth, op, ": argument 'v': expected [B, T, H] = ", shape_str(bth),
             " (as 'q_fw'), got shape ", shape_str(v.shape()));
  HQLT_CHECK(dv >= 1, op, ": argument 'v': expected shape [B, T, H, d_v] with d_v >= 1, got ", shape_str(v.shape()));
  HQLT_CHECK(beta.shape() == bth, op, ": argument 'beta': expected shape ", shape_str(bth),
             " ([B, T, H] of 'q_fw'), got ", shape_str(beta.shape()));
  if (initial_state.defined()) {
    const Shape state{bth[0], bth[2], dk, dv};
    HQLT_CHECK(initial_state.shape() == state, op, ": argument 'initial_state': expected shape ", shape_str(state),
               " ([B, H, d_k, d_v]), got ", shape_str(initial_state.shape()));
  }
  check_block_size(op, "chunk_size", chunk_size, q_fw.device());
  check_block_size(op, "fw_block_size", fw_block_size, q_fw.device());
  HQLT_CHECK(std::isfinite(scale), op, ": argument 'scale': expected a finite value (0 for d_k^-1/2), got ", scale);

  Problem p;
  p.batch = bth[0], p.time = bth[1], p.heads = bth[2], p.dk = dk, p.dv = dv;
  p.kv_chunk = chunk_size, p.fw_block = fw_block_size, p.l2 = l2norm_qk;
  p.scale = scale == 0 ? 1.0 / std::sqrt(double(dk)) : scale;
  return p;
}

namespace {

// The kernels of the inputs' device (hybrid_chunk_cpu.cpp or hybrid_chunk.cu).
void forward_on_device(const Problem& p, const Inputs& in, const Tensor& o_fw, const Tensor& o_kv,
                       const Tensor& final_state, const Tensor& lse) {
  if constexpr (kWithCuda) {
    if (in.q_fw.device() == Device::cuda) return forward_cuda(p, in, o_fw, o_kv, final_state, lse);
  }
  forward_cpu(p, in, o_fw, o_kv, final_state, lse);
}

Grads backward_on_device(const Problem& p, const Inputs& in, const Tensor& lse, const Tensor& d_o_fw,
                         const Tensor& d_o_kv, const Tensor& d_final) {
  if constexpr (kWithCuda) {
    if (in.q_fw.device() == Device::cuda) return backward_cuda(p, in, lse, d_o_fw, d_o_kv, d_final);
  }
  return backward_cpu(p, in, lse, d_o_fw, d_o_kv, d_final);
}

}  // namespace
}  // namespace hybrid_chunk_detail

using ops::contiguous_detached;

HybridChunkOutput hybrid_chunk(const Tensor& q_fw, const Tensor& k_fw, const Tensor& q_kv, const Tensor& k_kv,
                               const Tensor& v, const Tensor& beta, const Tensor& initial_state,
                               int64_t chunk_size, int64_t fw_block_size, bool l2norm_qk, double scale) {
  using namespace hybrid_chunk_detail;
  const Problem p = check_arguments("hybrid_chunk", q_fw, k_fw, q_kv, k_kv, v, beta, initial_state, chunk_size,
                                    fw_block_size, l2norm_qk, scale);
  const Inputs in{contiguous_detached(q_fw), contiguous_detached(k_fw), contiguous_detached(q_kv),
                  contiguous_detached(k_kv), contiguous_detached(v),    contiguous_detached(beta),
                  contiguous_detached(initial_state)};

  const DType dt = q_fw.dtype();
  const Device dev = q_fw.device();
  HybridChunkOutput out;
  out.o_fw = empty({p.batch, p.time, p.heads, p.dv}, dt, dev);
  out.o_kv = empty({p.batch, p.time, p.heads, p.dv}, dt, dev);
  out.final_state = empty({p.batch, p.heads, p.dk, p.dv}, dt, dev);
  Tensor lse = empty({p.batch, p.heads, p.time}, dt, dev);
  forward_on_device(p, in, out.o_fw, out.o_kv, out.final_state, lse);

  const autograd::TensorList inputs{q_fw, k_fw, q_kv, k_kv, v, beta, initial_state};
  if (autograd::needs_grad(inputs)) {
    autograd::record("hybrid_chunk", inputs, {out.o_fw, out.o_kv, out.final_state},
                     [p, in, lse](const autograd::TensorList& g, const std::vector<bool>& needs) {
                       // Gradients may be strided views; an undefined one is read as zero.
                       const Grads d = backward_on_device(p, in, lse, contiguous_detached(g[0]),
                                                          contiguous_detached(g[1]), contiguous_detached(g[2]));
                       autograd::TensorList grads{d.q_fw, d.k_fw, d.q_kv, d.k_kv, d.v, d.beta, d.initial_state};
                       for (size_t i = 0; i < grads.size(); ++i)
                         if (!needs[i]) grads[i] = Tensor();
                       return grads;
                     });
  }
  return out;
}

}  // namespace hqlt
