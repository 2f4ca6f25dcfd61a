// attention(): argument checks, the CPU kernel calls and the tape entry. The math and the
// shapes are in attention.h; the kernels in attention_cpu.cpp.
#include "ops/attention/attention.h"

#include <cmath>

#include "engine/device.h"
#include "ops/attention/attention_cuda.h"
#include "ops/op_utils.h"
#include "ops/reduce/reduce.h"

namespace hqlt {
namespace attention_detail {
namespace {

using autograd::TensorList;

void check_size(const char* op, const char* arg, const Tensor& t, int64_t dim, const char* what, int64_t expected,
                const char* like) {
  HQLT_CHECK(t.size(dim) == expected, op, ": argument '", arg, "': expected ", what, " == ", expected, " (as ",
             like, "), got shape ", shape_str(t.shape()));
}

using ops::contiguous_detached;

// The GPU kernel reads one kv head per query head: with grouped-query attention k and v
// are repeated for it (contiguous, as its inputs must be), and the repeated gradients summed
// back over each group.
Tensor repeat_kv_heads_contiguous(const Tensor& x, int64_t groups) { return repeat_kv_heads(x, groups).contiguous(); }
Tensor sum_kv_groups(const Tensor& g, int64_t groups) {
  if (groups == 1) return g;
  const int64_t b = g.size(0), t = g.size(1), h = g.size(2), d = g.size(3);
  return sum(g.reshape({b, t, h / groups, groups, d}), {3});
}

}  // namespace

Tensor repeat_kv_heads(const Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const int64_t b = x.size(0), t = x.size(1), h = x.size(2), d = x.size(3);
  return x.unsqueeze(3).expand({b, t, h, groups, d}).reshape({b, t, h * groups, d});
}

void check_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                     int64_t window, double scale, int64_t query_offset) {
  ops::check_rank(op, "q", q, 4);
  ops::check_rank(op, "k", k, 4);
  ops::check_rank(op, "v", v, 4);
  ops::check_floating(op, "q", q);
  ops::check_same_kind(op, "q", q, "k", k);
  ops::check_same_kind(op, "q", q, "v", v);
  ops::check_device_built(op, q);
  check_size(op, "k", k, 0, "batch B", q.size(0), "q [B, Tq, H, d_k]");
  check_size(op, "v", v, 0, "batch B", q.size(0), "q [B, Tq, H, d_k]");
  HQLT_CHECK(k.size(2) >= 1 && q.size(2) % k.size(2) == 0, op, ": argument 'k': expected kv heads H_kv dividing the ",
             q.size(2), " query heads of q [B, Tq, H, d_k], got shape ", shape_str(k.shape()));
  check_size(op, "v", v, 2, "heads H_kv", k.size(2), "k [B, Tk, H_kv, d_k]");
  check_size(op, "k", k, 3, "key dim d_k", q.size(3), "q [B, Tq, H, d_k]");
  check_size(op, "v", v, 1, "key length Tk", k.size(1), "k [B, Tk, H, d_k]");
  HQLT_CHECK(q.size(3) >= 1, op, ": argument 'q': expected a key dim d_k >= 1, got shape ", shape_str(q.shape()));
  HQLT_CHECK(v.size(3) >= 1, op, ": argument 'v': expected a value dim d_v >= 1, got shape ", shape_str(v.shape()));
  HQLT_CHECK(std::isfinite(scale), op, ": argument 'scale': expected a finite value, got ", scale);
  HQLT_CHECK(window == -1 || window >= 1, op, ": argument 'window': expected -1 (no window) or >= 1, got ", window);
  HQLT_CHECK(window == -1 || causal, op, ": argument 'window': a window (got ", window,
             ") needs causal = true; non-causal windowed attention is not defined (docs/math/kernels.md §3)");
  HQLT_CHECK(query_offset >= 0, op, ": argument 'query_offset': expected >= 0, got ", query_offset);
  const int64_t q_len = q.size(1), k_len = k.size(1);
  if (causal) {
    HQLT_CHECK(query_offset + q_len <= k_len, op, ": argument 'k': causal attention needs query_offset + Tq <= Tk ",
               "(every query's own key must exist), got query_offset ", query_offset, ", Tq ", q_len, ", Tk ", k_len);
  } else {
    HQLT_CHECK(k_len >= 1 || q.size(0) * q.size(2) * q_len == 0, op,
               ": argument 'k': expected at least one key (Tk >= 1) for the query rows, got shape ",
               shape_str(k.shape()));
  }
}

Tensor attention_tiled(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window, double scale,
                       int64_t query_offset, Tiles tiles) {
  constexpr const char* kOp = "attention";
  check_arguments(kOp, q, k, v, causal, window, scale, query_offset);
  HQLT_CHECK(tiles.query_rows >= 1 && tiles.key_rows >= 1, kOp, ": tile sizes must be >= 1, got ",
             tiles.query_rows, " x ", tiles.key_rows);
  Problem p;
  p.batch = q.size(0);
  p.q_len = q.size(1);
  p.k_len = k.size(1);
  p.heads = q.size(2);
  p.kv_heads = k.size(2);
  p.d_k = q.size(3);
  p.d_v = v.size(3);
  p.causal = causal;
  p.window = window;
  p.scale = scale;
  p.query_offset = query_offset;
  p.tiles = tiles;

  Tensor qc = contiguous_detached(q), kc = contiguous_detached(k), vc = contiguous_detached(v);
  Tensor out = empty({p.batch, p.q_len, p.heads, p.d_v}, q.dtype(), q.device());
  Tensor lse = empty({p.batch, p.heads, p.q_len}, q.dtype(), q.device());
  const bool on_gpu = kWithCuda && q.device() == Device::cuda;
  Problem gpu = p;  // the GPU kernel's view: every query head with its own (repeated) kv head
  gpu.kv_heads = 0;
  if constexpr (kWithCuda) {
    if (on_gpu)
      forward_cuda(gpu, qc, repeat_kv_heads_contiguous(kc, p.groups()), repeat_kv_heads_contiguous(vc, p.groups()),
                   out, lse);
  }
  if (!on_gpu) forward_cpu(p, qc, kc, vc, out, lse);

  if (autograd::needs_grad({q, k, v})) {
    Tensor saved_out = out.detach();
    autograd::record(kOp, {q, k, v}, {out},
                     [p, gpu, qc, kc, vc, saved_out, lse](const TensorList& g, const std::vector<bool>& needs) {
                       Tensor dout = g[0].is_contiguous() ? g[0] : clone_contiguous(g[0]);
                       Tensor dq = empty(qc.shape(), qc.dtype(), qc.device());
                       if constexpr (kWithCuda) {
                         if (qc.device() == Device::cuda) {
                           const Tensor kr = repeat_kv_heads_contiguous(kc, p.groups()),
                                        vr = repeat_kv_heads_contiguous(vc, p.groups());
                           Tensor dk = empty(kr.shape(), kr.dtype(), kr.device());
                           Tensor dv = empty(vr.shape(), vr.dtype(), vr.device());
                           backward_cuda(gpu, qc, kr, vr, saved_out, lse, dout, dq, dk, dv);
                           return TensorList{needs[0] ? dq : Tensor(), needs[1] ? sum_kv_groups(dk, p.groups()) : Tensor(),
                                             needs[2] ? sum_kv_groups(dv, p.groups()) : Tensor()};
                         }
                       }
                       Tensor dk = empty(kc.shape(), kc.dtype(), kc.device());
                       Tensor dv = empty(vc.shape(), vc.dtype(), vc.device());
                       backward_cpu(p, qc, kc, vc, saved_out, lse, dout, dq, dk, dv);
                       return TensorList{needs[0] ? dq : Tensor(), needs[1] ? dk : Tensor(),
                                         needs[2] ? dv : Tensor()};
                     });
  }
  return out;
}

}  // namespace attention_detail

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window, double scale,
                 int64_t query_offset) {
  return attention_detail::attention_tiled(q, k, v, causal, window, scale, query_offset, attention_detail::Tiles{});
}

}  // namespace hqlt
