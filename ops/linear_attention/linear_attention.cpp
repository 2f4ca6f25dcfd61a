// linear_attention: argument checks, dispatch by device (linear_attention_cpu.cpp or
// linear_attention.cu), and the tape entry.
#include "ops/linear_attention/linear_attention.h"

#include <cmath>

#include "engine/device.h"
#include "ops/linear_attention/linear_attention_cuda.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace linear_attention_detail {

void check_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size,
                     double eps) {
  ops::check_rank(op, "q", q, 4);
  ops::check_rank(op, "k", k, 4);
  ops::check_rank(op, "v", v, 4);
  ops::check_floating(op, "q", q);
  ops::check_same_kind(op, "q", q, "k", k);
  ops::check_same_kind(op, "q", q, "v", v);
  ops::check_device_built(op, q);
  for (int64_t dim = 0; dim < 3; ++dim) {
    static const char* const kNames[] = {"B", "T", "H"};
    HQLT_CHECK(k.size(dim) == q.size(dim), op, ": argument 'k': expected ", kNames[dim], " = ", q.size(dim),
               " (as q [B, T, H, d_k] ", shape_str(q.shape()), "), got shape ", shape_str(k.shape()));
    HQLT_CHECK(v.size(dim) == q.size(dim), op, ": argument 'v': expected ", kNames[dim], " = ", q.size(dim),
               " (as q [B, T, H, d_k] ", shape_str(q.shape()), "), got shape ", shape_str(v.shape()));
  }
  HQLT_CHECK(k.size(3) == q.size(3), op, ": argument 'k': expected d_k = ", q.size(3), " (as q), got shape ",
             shape_str(k.shape()));
  HQLT_CHECK(q.size(3) >= 1, op, ": argument 'q': expected d_k >= 1, got shape ", shape_str(q.shape()));
  HQLT_CHECK(ops::is_power_of_two(chunk_size), op,
             ": argument 'chunk_size': expected a power of two >= 1, got ", chunk_size);
  HQLT_CHECK(std::isfinite(eps) && eps >= 0, op, ": argument 'eps': expected a finite value >= 0, got ", eps);
}

}  // namespace linear_attention_detail

namespace {

using autograd::TensorList;
using linear_attention_detail::Problem;
constexpr const char* kOp = "linear_attention";

using ops::contiguous_detached;

// The kernels of the inputs' device; every tensor contiguous.
void forward_on_device(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& z,
                       const Problem& dims, LinearAttentionNormalizer normalizer, double eps) {
  if constexpr (kWithCuda) {
    if (q.device() == Device::cuda)
      return linear_attention_detail::forward_cuda(q, k, v, out, z, dims, normalizer, eps);
  }
  dispatch_float(q.dtype(), kOp, [&]<typename T>() {
    linear_attention_detail::forward_cpu<T>(q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), z.data<T>(), dims,
                                            normalizer, T(eps));
  });
}

void backward_on_device(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& z, const Tensor& out,
                        const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv, const Problem& dims,
                        LinearAttentionNormalizer normalizer, double eps) {
  if constexpr (kWithCuda) {
    if (q.device() == Device::cuda)
      return linear_attention_detail::backward_cuda(q, k, v, z, out, dout, dq, dk, dv, dims, normalizer, eps);
  }
  dispatch_float(q.dtype(), kOp, [&]<typename T>() {
    linear_attention_detail::backward_cpu<T>(q.data<T>(), k.data<T>(), v.data<T>(), z.data<T>(), out.data<T>(),
                                             dout.data<T>(), dq.data<T>(), dk.data<T>(), dv.data<T>(), dims,
                                             normalizer, T(eps));
  });
}

}  // namespace

Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t chunk_size,
                        LinearAttentionNormalizer normalizer, double eps) {
  linear_attention_detail::check_arguments(kOp, q, k, v, chunk_size, eps);
  const Problem dims{q.size(0), q.size(1), q.size(2), q.size(3), v.size(3), chunk_size};
  Tensor qc = contiguous_detached(q), kc = contiguous_detached(k), vc = contiguous_detached(v);
  Tensor out = empty({dims.batch, dims.time, dims.heads, dims.dv}, q.dtype(), q.device());
  Tensor z = empty({dims.batch, dims.time, dims.heads}, q.dtype(), q.device());
  forward_on_device(qc, kc, vc, out, z, dims, normalizer, eps);

  if (autograd::needs_grad({q, k, v})) {
    Tensor saved_out = out.detach();
    autograd::record(kOp, {q, k, v}, {out},
                     [qc, kc, vc, z, saved_out, dims, normalizer, eps](const TensorList& g, const std::vector<bool>& needs) {
                       Tensor dout = contiguous_detached(g[0]);
                       Tensor dq = empty(qc.shape(), qc.dtype(), qc.device());
                       Tensor dk = empty(kc.shape(), kc.dtype(), kc.device());
                       Tensor dv = empty(vc.shape(), vc.dtype(), vc.device());
                       backward_on_device(qc, kc, vc, z, saved_out, dout, dq, dk, dv, dims, normalizer, eps);
                       return TensorList{needs[0] ? dq : Tensor(), needs[1] ? dk : Tensor(), needs[2] ? dv : Tensor()};
                     });
  }
  return out;
}

}  // namespace hqlt
