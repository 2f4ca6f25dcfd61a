#include "ops/embedding/embedding.h"

#include <algorithm>
#include <cstring>

#include "engine/device.h"
#include "engine/parallel.h"
#include "engine/strided_loop.h"
#include "ops/embedding/embedding_cuda.h"
#include "ops/embedding/embedding_math.h"
#include "ops/op_utils.h"

namespace hqlt {
namespace {

using autograd::TensorList;
using Needs = std::vector<bool>;
using detail::RowGeometry;

// ---- index arguments ---------------------------------------------------------------------

// The index as a contiguous i64 tensor on the host (a copy unless it already is one), after
// checking its dtype. An index on cuda is read back: the range check and the backward's
// row segments (embedding_math.h) are computed on the host.
Tensor index_as_i64(const char* op, const char* arg, const Tensor& index) {
  ops::check_defined(op, arg, index);
  HQLT_CHECK(index.dtype() == DType::i32 || index.dtype() == DType::i64, op, ": argument '", arg,
             "': expected dtype i32 or i64, got ", dtype_name(index.dtype()));
  ops::check_device_built(op, index);
  if (index.device() == Device::cpu && index.dtype() == DType::i64 && index.is_contiguous()) return index.detach();
  Tensor out = empty(index.shape(), DType::i64);
  copy_into(out, index);
  return out;
}

// Throws naming the first value outside [0, limit), its (row-major) position and the range.
void check_in_range(const char* op, const char* arg, const Tensor& idx, int64_t limit, const char* what) {
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    HQLT_CHECK(p[i] >= 0 && p[i] < limit, op, ": argument '", arg, "': value ", p[i], " at position ", i,
               " is out of range; expected [0, ", limit, ") for ", what, " of size ", limit);
}

// ---- row kernels: x viewed as [outer, N, inner], the index picks along N ---------------

RowGeometry row_geometry(const Shape& shape, int64_t d, int64_t picks) {
  RowGeometry g;
  for (int64_t k = 0; k < int64_t(shape.size()); ++k) {
    if (k < d) g.outer *= shape[size_t(k)];
    if (k > d) g.inner *= shape[size_t(k)];
  }
  g.rows = shape[size_t(d)];
  g.picks = picks;
  return g;
}

// out[o, k, :] = x[o, idx[k], :] (x and out contiguous). Each output row is independent.
template <typename T>
void gather_rows(const T* x, T* out, const int64_t* idx, const RowGeometry& g) {
  const int64_t n_rows = g.outer * g.picks;
#pragma omp parallel for if (should_parallelize(n_rows * g.inner))
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t o = r / g.picks, k = r % g.picks;
    std::memcpy(out + r * g.inner, x + (o * g.rows + idx[k]) * g.inner, size_t(g.inner) * sizeof(T));
  }
}

// dx[o, idx[k], :] += dout[o, k, :] for k = 0, 1, .. in order, skipping row `skip_row`
// (-1: none). Work items are (outer row, block of columns): two items never touch the same
// element of dx, and within an item the k order is fixed, so the sums are deterministic.
template <typename T>
void scatter_add_rows(T* dx, const T* dout, const int64_t* idx, const RowGeometry& g, int64_t skip_row) {
  constexpr int64_t kBlock = 64;  // columns per work item: 256 bytes of f32
  const int64_t n_blocks = (g.inner + kBlock - 1) / kBlock;
  const int64_t n_items = g.outer * n_blocks;
#pragma omp parallel for if (should_parallelize(g.outer * g.picks * g.inner))
  for (int64_t item = 0; item < n_items; ++item) {
    const int64_t o = item / n_blocks;
    const int64_t c0 = (item % n_blocks) * kBlock, c1 = std::min(c0 + kBlock, g.inner);
    for (int64_t k = 0; k < g.picks; ++k) {
      if (idx[k] == skip_row) continue;
      T* dst = dx + (o * g.rows + idx[k]) * g.inner;
      const T* src = dout + (o * g.picks + k) * g.inner;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

// The shared forward of index_select and embedding: x [outer, N, inner] -> [outer, K, inner],
// on x's device; idx is on the host.
Tensor select_rows(const char* op, const Tensor& x, const Tensor& idx, const RowGeometry& g, const Shape& out_shape) {
  Tensor xc = ops::contiguous_detached(x);
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) {
      detail::gather_rows_cuda(xc, idx, g, out);
      return out;
    }
  }
  dispatch_float(x.dtype(), op, [&]<typename T>() {
    gather_rows<T>(xc.data<T>(), out.data<T>(), idx.data<int64_t>(), g);
  });
  return out;
}

// The shared backward: dx (shape in_shape, dout's device) = scatter-add of dout's rows.
Tensor scatter_rows(const char* op, const Tensor& dout, const Tensor& idx, const RowGeometry& g, const Shape& in_shape,
                    int64_t skip_row) {
  Tensor dc = ops::contiguous_detached(dout);
  if constexpr (kWithCuda) {
    if (dout.device() == Device::cuda) {
      Tensor dx = empty(in_shape, dout.dtype(), dout.device());
      detail::scatter_rows_cuda(dc, idx, g, skip_row, dx);
      return dx;
    }
  }
  Tensor dx = zeros(in_shape, dout.dtype());
  dispatch_float(dout.dtype(), op, [&]<typename T>() {
    scatter_add_rows<T>(dx.data<T>(), dc.data<T>(), idx.data<int64_t>(), g, skip_row);
  });
  return dx;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  ops::check_floating("index_select", "x", x);
  ops::check_device_built("index_select", x);
  HQLT_CHECK(x.dim() >= 1, "index_select: argument 'x': expected rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  Tensor idx = index_as_i64("index_select", "index", index);
  ops::check_rank("index_select", "index", index, 1);
  check_in_range("index_select", "index", idx, x.shape()[size_t(d)], "dim of x");

  const RowGeometry g = row_geometry(x.shape(), d, idx.numel());
  Shape out_shape = x.shape();
  out_shape[size_t(d)] = idx.numel();
  Tensor out = select_rows("index_select", x, idx, g, out_shape);

  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("index_select", {x, index}, {out}, [idx, g, in_shape](const TensorList& grads, const Needs&) {
      return TensorList{scatter_rows("index_select", grads[0], idx, g, in_shape, -1), Tensor()};
    });
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx) {
  ops::check_floating("embedding", "weight", weight);
  ops::check_device_built("embedding", weight);
  ops::check_rank("embedding", "weight", weight, 2);
  const int64_t vocab = weight.shape()[0], width = weight.shape()[1];
  Tensor idx = index_as_i64("embedding", "ids", ids);
  check_in_range("embedding", "ids", idx, vocab, "the rows of weight (vocabulary)");
  HQLT_CHECK(padding_idx == -1 || (padding_idx >= 0 && padding_idx < vocab), "embedding: argument 'padding_idx': ",
             "expected -1 (none) or a row in [0, ", vocab, "), got ", padding_idx);

  // weight is [1, V, D] in row-kernel terms; the ids, flattened, pick along V.
  const RowGeometry g{1, vocab, idx.numel(), width};
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  Tensor out = select_rows("embedding", weight, idx, g, out_shape);

  if (autograd::needs_grad({weight})) {
    Shape in_shape = weight.shape();
    autograd::record("embedding", {weight, ids}, {out},
                     [idx, g, in_shape, padding_idx](const TensorList& grads, const Needs&) {
                       // The padding row is skipped: its gradient stays exactly zero (§1.7).
                       return TensorList{scatter_rows("embedding", grads[0], idx, g, in_shape, padding_idx),
                                         Tensor()};
                     });
  }
  return out;
}

namespace {

// gather's shapes for the CUDA kernels (embedding_math.h).
[[maybe_unused]] detail::GatherGeometry gather_geometry(const Shape& x_shape, const Strides& x_strides, const Shape& index_shape,
                                       int64_t d) {
  HQLT_CHECK(x_shape.size() <= size_t(detail::kGatherMaxRank), "gather: the cuda kernel takes rank <= ",
             detail::kGatherMaxRank, ", got shape ", shape_str(x_shape));
  detail::GatherGeometry g;
  g.rank = int(x_shape.size());
  g.d = int(d);
  for (size_t k = 0; k < x_shape.size(); ++k) {
    g.index_shape[k] = index_shape[k];
    g.x_shape[k] = x_shape[k];
    g.x_strides[k] = x_strides[k];
  }
  return g;
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  ops::check_floating("gather", "x", x);
  ops::check_device_built("gather", x);
  HQLT_CHECK(x.dim() >= 1, "gather: argument 'x': expected rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  Tensor idx = index_as_i64("gather", "index", index);
  ops::check_rank("gather", "index", index, x.dim());
  for (int64_t k = 0; k < x.dim(); ++k)
    HQLT_CHECK(k == d || index.shape()[size_t(k)] <= x.shape()[size_t(k)], "gather: argument 'index': expected ",
               "size <= ", x.shape()[size_t(k)], " in dim ", k, " (x has shape ", shape_str(x.shape()),
               "), got shape ", shape_str(index.shape()));
  check_in_range("gather", "index", idx, x.shape()[size_t(d)], "dim of x");

  // Walk the lines along d: index's shape with d collapsed to 1. For each line the kernel
  // steps through its `picks` positions; out and idx are contiguous with index's shape.
  Shape lines = index.shape();
  const int64_t picks = lines[size_t(d)];
  lines[size_t(d)] = 1;
  const Strides line_strides = contiguous_strides(index.shape());
  const int64_t step_d = line_strides[size_t(d)];

  Tensor out = empty(index.shape(), x.dtype(), x.device());
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda)
      detail::gather_cuda(x.detach(), idx, gather_geometry(x.shape(), x.strides(), index.shape(), d), out);
  }
  if (x.device() == Device::cpu) dispatch_float(x.dtype(), "gather", [&]<typename T>() {
    const T* xp = x.data<T>();
    const int64_t* ip = idx.data<int64_t>();
    T* op = out.data<T>();
    const int64_t x_step_d = x.strides()[size_t(d)];
    strided_loop<2>(lines, {x.strides(), line_strides}, [&](auto off, int64_t n, auto step) {
      for (int64_t t = 0; t < n; ++t) {
        const int64_t xb = off[0] + t * step[0], ib = off[1] + t * step[1];
        for (int64_t j = 0; j < picks; ++j) op[ib + j * step_d] = xp[xb + ip[ib + j * step_d] * x_step_d];
      }
    });
  });

  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    const Shape index_shape = index.shape();
    autograd::record("gather", {x, index}, {out}, [idx, in_shape, lines, line_strides, d, picks, index_shape](
                                                      const TensorList& grads, const Needs&) {
      // dx[.., idx, ..] += dout along each line, in position order. Different lines hit
      // different lines of dx, so splitting the lines over threads is safe and exact.
      const Tensor& dout = grads[0];
      if constexpr (kWithCuda) {
        if (dout.device() == Device::cuda) {
          Tensor dx = empty(in_shape, dout.dtype(), Device::cuda);
          detail::gather_backward_cuda(ops::contiguous_detached(dout), idx,
                                       gather_geometry(in_shape, contiguous_strides(in_shape), index_shape, d), dx);
          return TensorList{dx, Tensor()};
        }
      }
      Tensor dx = zeros(in_shape, dout.dtype());
      dispatch_float(dout.dtype(), "gather", [&]<typename T>() {
        T* dxp = dx.data<T>();
        const T* gp = dout.data<T>();
        const int64_t* ip = idx.data<int64_t>();
        const int64_t dx_step_d = dx.strides()[size_t(d)];
        const int64_t step_d = line_strides[size_t(d)], g_step_d = dout.strides()[size_t(d)];
        strided_loop<3>(lines, {dx.strides(), line_strides, dout.strides()}, [&](auto off, int64_t n, auto step) {
          for (int64_t t = 0; t < n; ++t) {
            const int64_t xb = off[0] + t * step[0], ib = off[1] + t * step[1], gb = off[2] + t * step[2];
            for (int64_t j = 0; j < picks; ++j) dxp[xb + ip[ib + j * step_d] * dx_step_d] += gp[gb + j * g_step_d];
          }
        });
      });
      return TensorList{dx, Tensor()};
    });
  }
  return out;
}

}  // namespace hqlt
