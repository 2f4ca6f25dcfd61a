// delta_rule: argument checks, the call into the CPU kernel, and the tape entry.
// The math is in delta_rule.h and NOTES.md; the kernels are in delta_rule_cpu.cpp.
#include "ops/delta_rule/delta_rule.h"

#include "engine/autograd.h"
#include "engine/device.h"
#include "ops/delta_rule/delta_rule_cuda.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace detail {

void check_delta_rule_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const Tensor& initial_state, int64_t chunk_size) {
  ops::check_floating(op, "q", q);
  ops::check_same_kind(op, "q", q, "k", k);
  ops::check_same_kind(op, "q", q, "v", v);
  ops::check_same_kind(op, "q", q, "beta", beta);
  if (initial_state.defined()) ops::check_same_kind(op, "q", q, "initial_state", initial_state);
  ops::check_device_built(op, q);

  ops::check_rank(op, "q", q, 4);
  ops::check_rank(op, "k", k, 4);
  ops::check_rank(op, "v", v, 4);
  ops::check_rank(op, "beta", beta, 3);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), dk = q.size(3);
  const Shape bth{B, T, H};
  const auto leading = [](const Tensor& t) { return Shape{t.size(0), t.size(1), t.size(2)}; };
  HQLT_CHECK(dk >= 1, op, ": argument 'q': expected shape [B, T, H, d_k] with d_k >= 1, got ", shape_str(q.shape()));
  HQLT_CHECK(leading(k) == bth, op, ": argument 'k': expected [B, T, H] = ", shape_str(bth),
             " (as 'q'), got shape ", shape_str(k.shape()));
  HQLT_CHECK(k.size(3) == dk, op, ": argument 'k': expected d_k = ", dk, " (q's last dim), got shape ",
             shape_str(k.shape()));
  HQLT_CHECK(leading(v) == bth, op, ": argument 'v': expected [B, T, H] = ", shape_str(bth),
             " (as 'q'), got shape ", shape_str(v.shape()));
  const int64_t dv = v.size(3);
  HQLT_CHECK(dv >= 1, op, ": argument 'v': expected shape [B, T, H, d_v] with d_v >= 1, got ", shape_str(v.shape()));
  HQLT_CHECK(beta.shape() == bth, op, ": argument 'beta': expected shape ", shape_str(bth),
             " ([B, T, H] of 'q'), got ", shape_str(beta.shape()));
  if (initial_state.defined()) {
    const Shape state{B, H, dk, dv};
    HQLT_CHECK(initial_state.shape() == state, op, ": argument 'initial_state': expected shape ", shape_str(state),
               " ([B, H, d_k, d_v]), got ", shape_str(initial_state.shape()));
  }
  ops::check_power_of_two(op, "chunk_size", chunk_size, 8, 128);
}

}  // namespace detail

using ops::contiguous_detached;

namespace {

// The kernels of the inputs' device (delta_rule_cpu.cpp or delta_rule.cu).
void forward_on_device(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta, const Tensor& s0,
                       int64_t chunk_size, bool l2, const Tensor& o, const Tensor& final_state) {
  if constexpr (kWithCuda) {
    if (q.device() == Device::cuda)
      return detail::delta_rule_forward_cuda(q, k, v, beta, s0, chunk_size, l2, o, final_state);
  }
  detail::delta_rule_forward_cpu(q, k, v, beta, s0, chunk_size, l2, o, final_state);
}

detail::DeltaRuleGrads backward_on_device(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                          const Tensor& s0, const Tensor& d_o, const Tensor& d_final,
                                          int64_t chunk_size, bool l2) {
  if constexpr (kWithCuda) {
    if (q.device() == Device::cuda)
      return detail::delta_rule_backward_cuda(q, k, v, beta, s0, d_o, d_final, chunk_size, l2);
  }
  return detail::delta_rule_backward_cpu(q, k, v, beta, s0, d_o, d_final, chunk_size, l2);
}

}  // namespace

DeltaRuleOutput delta_rule(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const Tensor& initial_state, int64_t chunk_size, bool l2norm_qk) {
  detail::check_delta_rule_args("delta_rule", q, k, v, beta, initial_state, chunk_size);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), dk = q.size(3), dv = v.size(3);

  // The kernel reads rows of contiguous [B, T, H, d] tensors; these copies (or the inputs
  // themselves, when already contiguous) are also what backward saves.
  Tensor qc = contiguous_detached(q), kc = contiguous_detached(k), vc = contiguous_detached(v);
  Tensor bc = contiguous_detached(beta), s0 = contiguous_detached(initial_state);

  DeltaRuleOutput out;
  out.o = empty({B, T, H, dv}, q.dtype(), q.device());
  out.final_state = empty({B, H, dk, dv}, q.dtype(), q.device());
  forward_on_device(qc, kc, vc, bc, s0, chunk_size, l2norm_qk, out.o, out.final_state);

  if (autograd::needs_grad({q, k, v, beta, initial_state})) {
    autograd::record(
        "delta_rule", {q, k, v, beta, initial_state}, {out.o, out.final_state},
        [qc, kc, vc, bc, s0, chunk_size, l2norm_qk](const autograd::TensorList& g, const std::vector<bool>& needs) {
          // An output that received no gradient arrives undefined: the kernel reads it as zero.
          Tensor d_o = contiguous_detached(g[0]), d_final = contiguous_detached(g[1]);
          detail::DeltaRuleGrads d = backward_on_device(qc, kc, vc, bc, s0, d_o, d_final, chunk_size, l2norm_qk);
          autograd::TensorList grads{d.dq, d.dk, d.dv, d.dbeta, d.dinitial_state};
          for (size_t i = 0; i < grads.size(); ++i)
            if (!needs[i]) grads[i] = Tensor();
          return grads;
        });
  }
  return out;
}

}  // namespace hqlt
