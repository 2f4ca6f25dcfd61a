#include "ops/matmul/matmul.h"

#include "engine/cuda/blas.h"
#include "engine/device.h"
#include "ops/matmul/gemm.h"
#include "ops/op_utils.h"
#include "ops/shape/views.h"

namespace hqlt {
namespace {

// One GEMM operand: a batch of matrices at data + i * batch_stride, each read with row
// stride `ld`, transposed or not.
template <typename T>
struct Operand {
  const T* data;
  int64_t ld;
  int64_t batch_stride;
  bool trans;
};

// Views t ([..., R, C], read as op(t) when trans) over the batch shape and finds a GEMM
// layout for it, copying only when neither of the last two dims has unit stride or the
// batch dims cannot be walked with one stride.
template <typename T>
Operand<T> prepare(const Tensor& t, bool trans, const Shape& batch, Tensor& keep_alive) {
  Shape full = batch;
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  Tensor v;
  {
    NoGrad no_grad;
    v = t.expand(full);
  }
  auto layout_ok = [&](const Tensor& x) {
    int64_t r = x.dim() - 2;
    bool rows_unit = x.strides()[size_t(r + 1)] == 1 || x.shape()[size_t(r + 1)] == 1;
    bool cols_unit = x.strides()[size_t(r)] == 1 || x.shape()[size_t(r)] == 1;
    if (!rows_unit && !cols_unit) return false;
    // The batch dims must collapse to one stride.
    for (int64_t i = r - 2; i >= 0; --i) {
      if (x.shape()[size_t(i)] == 1 || x.shape()[size_t(i + 1)] == 1) continue;
      if (x.strides()[size_t(i)] != x.strides()[size_t(i + 1)] * x.shape()[size_t(i + 1)]) return false;
    }
    return true;
  };
  if (!layout_ok(v)) v = clone_contiguous(v);
  keep_alive = v;
  int64_t r = v.dim() - 2;
  int64_t rows = v.shape()[size_t(r)], cols = v.shape()[size_t(r + 1)];
  int64_t rs = v.strides()[size_t(r)], cs = v.strides()[size_t(r + 1)];
  Operand<T> op{v.data<T>(), 0, 0, trans};
  if (cs == 1 || cols == 1) {
    op.ld = rows == 1 ? std::max<int64_t>(cols, 1) : std::max<int64_t>(rs, cols);
  } else {  // column-major in memory: read it as the transpose of a row-major matrix
    op.trans = !trans;
    op.ld = cols == 1 ? std::max<int64_t>(rows, 1) : std::max<int64_t>(cs, rows);
  }
  // Batch dims collapse to one stride (checked above): that of the innermost one that is
  // not of size 1, or 0 when the whole batch is broadcast from one matrix.
  op.batch_stride = 0;
  for (int64_t i = r - 1; i >= 0; --i) {
    if (v.shape()[size_t(i)] != 1) {
      op.batch_stride = v.strides()[size_t(i)];
      break;
    }
  }
  return op;
}

Tensor matmul_kernel(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const int64_t m = trans_a ? a.size(-1) : a.size(-2), k = trans_a ? a.size(-2) : a.size(-1);
  const int64_t kb = trans_b ? b.size(-1) : b.size(-2), n = trans_b ? b.size(-2) : b.size(-1);
  HQLT_CHECK(k == kb, "matmul: argument 'b': expected its ", trans_b ? "last" : "second-to-last", " dim to be ", k,
             " (the inner dim of 'a', shape ", shape_str(a.shape()), trans_a ? " transposed" : "", "), got shape ",
             shape_str(b.shape()), trans_b ? " transposed" : "");
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), "matmul (batch dims)");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, a.dtype(), a.device());
  const int64_t count = numel_of(batch);
  dispatch_float(a.dtype(), "matmul", [&]<typename T>() {
    Tensor keep_a, keep_b;
    Operand<T> A = prepare<T>(a, trans_a, batch, keep_a);
    Operand<T> B = prepare<T>(b, trans_b, batch, keep_b);
    if constexpr (kWithCuda) {
      if (out.device() == Device::cuda) {  // same operand layout, device pointers: cuBLAS
        cuda::gemm_strided_batched<T>(A.trans, B.trans, m, n, k, T(1), A.data, A.ld, A.batch_stride, B.data, B.ld,
                                      B.batch_stride, T(0), out.data<T>(), n, m * n, count);
        return;
      }
    }
    gemm::gemm_strided_batched<T>(A.trans, B.trans, m, n, k, T(1), A.data, A.ld, A.batch_stride, B.data, B.ld,
                                  B.batch_stride, T(0), out.data<T>(), n, m * n, count);
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  ops::check_floating("matmul", "a", a);
  ops::check_same_kind("matmul", "a", a, "b", b);
  ops::check_device_built("matmul", a);
  HQLT_CHECK(a.dim() >= 2, "matmul: argument 'a': expected at least 2 dims, got shape ", shape_str(a.shape()));
  HQLT_CHECK(b.dim() >= 2, "matmul: argument 'b': expected at least 2 dims, got shape ", shape_str(b.shape()));
  Tensor out = matmul_kernel(a, b, trans_a, trans_b);
  if (autograd::needs_grad({a, b})) {
    Tensor sa = a.detach(), sb = b.detach();
    autograd::record("matmul", {a, b}, {out},
                     [sa, sb, trans_a, trans_b](const autograd::TensorList& g, const std::vector<bool>& needs) {
                       const Tensor& dout = g[0];
                       autograd::TensorList grads(2);
                       if (needs[0]) {
                         // d op(a) = dout · op(b)ᵀ; for trans_a, da = op(b) · doutᵀ.
                         Tensor da = trans_a ? matmul_kernel(sb, dout, trans_b, true)
                                             : matmul_kernel(dout, sb, false, !trans_b);
                         grads[0] = ops::sum_to(da, sa.shape());
                       }
                       if (needs[1]) {
                         // d op(b) = op(a)ᵀ · dout; for trans_b, db = doutᵀ · op(a).
                         Tensor db = trans_b ? matmul_kernel(dout, sa, true, trans_a)
                                             : matmul_kernel(sa, dout, !trans_a, false);
                         grads[1] = ops::sum_to(db, sb.shape());
                       }
                       return grads;
                     });
  }
  return out;
}

void set_matmul_allow_tf32(bool on) {
  if constexpr (kWithCuda) {
    cuda::set_allow_tf32(on);
  }
  (void)on;
}

}  // namespace hqlt
