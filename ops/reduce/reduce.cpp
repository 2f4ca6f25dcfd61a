#include "ops/reduce/reduce.h"

#include <algorithm>
#include <limits>

#include "engine/device.h"
#include "engine/strided_loop.h"
#include "ops/op_utils.h"
#include "ops/reduce/reduce_cuda.h"

namespace hqlt {
namespace {

// The reduction's geometry: which dims are reduced, the kept shape (with 1s), and the
// output shape as the caller asked for it.
struct Plan {
  std::vector<bool> reduced;
  Shape kept;     // x's shape with reduced dims set to 1
  Shape out;      // kept, with the 1s dropped unless keepdim
  int64_t count;  // elements folded into each output
};

Plan make_plan(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Plan p;
  p.reduced.assign(size_t(x.dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    HQLT_CHECK(!p.reduced[size_t(w)], op, ": dim ", d, " is listed twice");
    p.reduced[size_t(w)] = true;
  }
  p.count = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    bool r = p.reduced[size_t(i)];
    p.kept.push_back(r ? 1 : x.shape()[size_t(i)]);
    if (r) p.count *= x.shape()[size_t(i)];
    if (!r || keepdim) p.out.push_back(r ? 1 : x.shape()[size_t(i)]);
  }
  return p;
}

// Visits every output element o (in the kept layout) with the geometry of its reduced
// slice: base offset into x, the reduced sub-shape and its strides. Parallel over outputs.
template <typename Fn>
void for_each_output(const Tensor& x, const Plan& p, Fn fn) {
  Shape inner_shape;
  Strides inner_strides, outer_strides;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (p.reduced[size_t(i)]) {
      inner_shape.push_back(x.shape()[size_t(i)]);
      inner_strides.push_back(x.strides()[size_t(i)]);
      outer_strides.push_back(0);
    } else {
      outer_strides.push_back(x.strides()[size_t(i)]);
    }
  }
  Strides out_strides = contiguous_strides(p.kept);
  for (int64_t i = 0; i < x.dim(); ++i)
    if (p.reduced[size_t(i)]) out_strides[size_t(i)] = 0;
  strided_loop<2>(p.kept, {outer_strides, out_strides}, [&](auto off, int64_t n, auto step) {
    for (int64_t j = 0; j < n; ++j) fn(off[0] + j * step[0], off[1] + j * step[1], inner_shape, inner_strides);
  });
}

// Folds a strided slice with `combine`, in row-major order.
template <typename T, typename Combine>
T fold(const T* base, const Shape& shape, const Strides& strides, T init, Combine combine) {
  T acc = init;
  strided_loop<1>(shape, {strides}, [&](auto off, int64_t n, auto step) {
    const T* p = base + off[0];
    for (int64_t j = 0; j < n; ++j) acc = combine(acc, p[j * step[0]]);
  }, /*may_split=*/false);
  return acc;
}

// x's dims reordered: the kept ones first, then the reduced ones, each in their order.
std::vector<int64_t> kept_then_reduced(const Plan& p) {
  std::vector<int64_t> order;
  for (size_t i = 0; i < p.reduced.size(); ++i)
    if (!p.reduced[i]) order.push_back(int64_t(i));
  for (size_t i = 0; i < p.reduced.size(); ++i)
    if (p.reduced[i]) order.push_back(int64_t(i));
  return order;
}

// Few outputs, long slices: bring each slice together (reduced dims last, contiguous) and
// sum it in fixed blocks of kBlock elements, blocks in parallel, partial sums combined in
// block order. The block layout does not depend on the thread count, so neither do the bits.
Tensor sum_long_slices(const Tensor& x, const Plan& p) {
  constexpr int64_t kBlock = 4096;
  Tensor xc;
  {
    NoGrad no_grad;
    xc = clone_contiguous(x.permute(kept_then_reduced(p)));
  }
  Tensor out = empty(p.kept, x.dtype(), x.device());
  const int64_t n_out = out.numel(), len = p.count, n_blocks = (len + kBlock - 1) / kBlock;
  dispatch_float(x.dtype(), "sum", [&]<typename T>() {
    const T* xp = xc.data<T>();
    T* op = out.data<T>();
    std::vector<T> partial(size_t(n_out * n_blocks));
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t b = 0; b < n_blocks; ++b) {
        const T* s = xp + o * len + b * kBlock;
        int64_t n = std::min(kBlock, len - b * kBlock);
        T acc = 0;
        for (int64_t j = 0; j < n; ++j) acc += s[j];
        partial[size_t(o * n_blocks + b)] = acc;
      }
    for (int64_t o = 0; o < n_out; ++o) {
      T acc = 0;
      for (int64_t b = 0; b < n_blocks; ++b) acc += partial[size_t(o * n_blocks + b)];
      op[o] = acc;
    }
  });
  return out;
}

Tensor sum_kernel(const Tensor& x, const Plan& p) {
  // Which of the two summation orders depends on the shape alone, never on the thread
  // count or the calling context: a run gives the same bits with any --threads.
  if (numel_of(p.kept) < 8 && p.count >= 4 * 4096) return sum_long_slices(x, p);
  Tensor out = empty(p.kept, x.dtype(), x.device());
  dispatch_float(x.dtype(), "sum", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for_each_output(x, p, [&](int64_t xo, int64_t oo, const Shape& s, const Strides& st) {
      op[oo] = fold<T>(xp + xo, s, st, T(0), [](T a, T b) { return a + b; });
    });
  });
  return out;
}

// x as the contiguous [n_out, count] matrix the cuda kernels reduce row by row
// (reduce_math.h).
[[maybe_unused]] Tensor rows_of(const Tensor& x, const Plan& p) {
  NoGrad no_grad;
  return clone_contiguous(x.permute(kept_then_reduced(p))).reshape({numel_of(p.kept), p.count});
}

// Σ over the reduced dims, times `inv` for a mean: [kept], contiguous, on x's device.
Tensor sum_on_device(const Tensor& x, const Plan& p, bool mean, double inv) {
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) {
      Tensor out = empty(p.kept, x.dtype(), Device::cuda);
      detail::reduce_sum_cuda(out, rows_of(x, p), mean, inv);
      return out;
    }
  }
  Tensor out = sum_kernel(x, p);
  if (mean) {
    dispatch_float(x.dtype(), "mean", [&]<typename T>() {
      T* o = out.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i) o[i] *= T(inv);
    });
  }
  return out;
}

// max on the card: the maximum of each row of rows_of(x) and its position there; backward
// scatters the gradient into that layout and permutes it back to x's. Its own backward
// calls the cuda kernels directly, so it exists in CUDA builds only.
#ifdef HQLT_HAS_CUDA
Tensor max_cuda(const Tensor& x, const Plan& p) {
  const Tensor rows = rows_of(x, p);
  Tensor out = empty(p.kept, x.dtype(), Device::cuda);
  Tensor where = empty(p.kept, DType::i64, Device::cuda);
  detail::reduce_max_cuda(out, where, rows);
  out = as_strided(out, p.out, contiguous_strides(p.out), 0);
  if (autograd::needs_grad({x})) {
    const std::vector<int64_t> order = kept_then_reduced(p);
    std::vector<int64_t> inverse(order.size());
    Shape permuted;
    for (size_t i = 0; i < order.size(); ++i) {
      inverse[size_t(order[i])] = int64_t(i);
      permuted.push_back(x.size(order[i]));
    }
    const Shape row_shape = rows.shape();
    autograd::record("max", {x}, {out},
                     [where, row_shape, permuted, inverse](const autograd::TensorList& g, const std::vector<bool>&) {
                       Tensor drows = empty(row_shape, g[0].dtype(), Device::cuda);
                       detail::reduce_max_backward_cuda(drows, ops::contiguous_detached(g[0]), where);
                       return autograd::TensorList{clone_contiguous(drows.reshape(permuted).permute(inverse))};
                     });
  }
  return out;
}
#endif

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ops::check_floating("sum", "x", x);
  ops::check_device_built("sum", x);
  Plan p = make_plan("sum", x, dims, keepdim);
  Tensor out = sum_on_device(x, p, /*mean=*/false, 1.0).detach();
  out = as_strided(out, p.out, contiguous_strides(p.out), 0);
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape(), kept = p.kept;
    autograd::record("sum", {x}, {out}, [in_shape, kept](const autograd::TensorList& g, const std::vector<bool>&) {
      return autograd::TensorList{clone_contiguous(g[0].reshape(kept).expand(in_shape))};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ops::check_floating("mean", "x", x);
  ops::check_device_built("mean", x);
  Plan p = make_plan("mean", x, dims, keepdim);
  double inv = p.count > 0 ? 1.0 / double(p.count) : std::numeric_limits<double>::quiet_NaN();
  Tensor out = sum_on_device(x, p, /*mean=*/true, inv);
  out = as_strided(out, p.out, contiguous_strides(p.out), 0);
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape(), kept = p.kept;
    autograd::record("mean", {x}, {out}, [in_shape, kept, inv](const autograd::TensorList& g, const std::vector<bool>&) {
      Tensor d = clone_contiguous(g[0].reshape(kept).expand(in_shape));
      if constexpr (kWithCuda) {
        if (d.device() == Device::cuda) {
          detail::reduce_scale_cuda(d, inv);
          return autograd::TensorList{d};
        }
      }
      dispatch_float(d.dtype(), "mean", [&]<typename T>() {
        T* dp = d.data<T>();
        for (int64_t i = 0; i < d.numel(); ++i) dp[i] *= T(inv);
      });
      return autograd::TensorList{d};
    });
  }
  return out;
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ops::check_floating("max", "x", x);
  ops::check_device_built("max", x);
  Plan p = make_plan("max", x, dims, keepdim);
  HQLT_CHECK(p.count > 0, "max: cannot reduce over an empty dim (shape ", shape_str(x.shape()), ")");
#ifdef HQLT_HAS_CUDA  // max_cuda exists in CUDA builds only (see above)
  if (x.device() == Device::cuda) return max_cuda(x, p);
#endif
  Tensor out = empty(p.kept, x.dtype());
  // The flat offset (into x's storage, relative to x's first element) of each maximum.
  Tensor where = empty(p.kept, DType::i64);
  dispatch_float(x.dtype(), "max", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    int64_t* wp = where.data<int64_t>();
    for_each_output(x, p, [&](int64_t xo, int64_t oo, const Shape& s, const Strides& st) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_at = xo;
      bool first = true;
      strided_loop<1>(s, {st}, [&](auto off, int64_t n, auto step) {
        for (int64_t j = 0; j < n; ++j) {
          int64_t at = xo + off[0] + j * step[0];
          T v = xp[at];
          if (first || v > best || (v != v && best == best)) {  // NaN wins, as in max()
            best = v, best_at = at, first = false;
          }
        }
      }, /*may_split=*/false);
      op[oo] = best;
      wp[oo] = best_at;
    });
  });
  out = as_strided(out, p.out, contiguous_strides(p.out), 0);
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    Strides in_strides = x.strides();
    autograd::record("max", {x}, {out}, [in_shape, in_strides, where](const autograd::TensorList& g, const std::vector<bool>&) {
      // Scatter into a buffer laid out like x (same strides), then gather it contiguous.
      int64_t span = 1;
      for (size_t i = 0; i < in_shape.size(); ++i) span += (in_shape[i] - 1) * in_strides[i];
      Tensor buffer = zeros({span}, g[0].dtype());
      Tensor gc = clone_contiguous(g[0]);
      dispatch_float(gc.dtype(), "max", [&]<typename T>() {
        T* b = buffer.data<T>();
        const T* gp = gc.data<T>();
        const int64_t* wp = where.data<int64_t>();
        for (int64_t i = 0; i < where.numel(); ++i) b[wp[i]] += gp[i];
      });
      return autograd::TensorList{clone_contiguous(as_strided(buffer, in_shape, in_strides, 0))};
    });
  }
  return out;
}

}  // namespace hqlt
