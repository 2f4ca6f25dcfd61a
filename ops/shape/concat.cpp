#include "ops/shape/concat.h"

#include <algorithm>

#include "ops/op_utils.h"

namespace hqlt {

using autograd::TensorList;
using Needs = std::vector<bool>;

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  HQLT_CHECK(!xs.empty(), "concat: argument 'xs': expected at least one tensor, got none");
  for (size_t i = 0; i < xs.size(); ++i)
    HQLT_CHECK(xs[i].defined(), "concat: argument 'xs[", i, "]' is an undefined tensor");
  const Tensor& first = xs[0];
  ops::check_device_built("concat", first);
  HQLT_CHECK(first.dim() >= 1, "concat: argument 'xs[0]': expected rank >= 1, got shape ",
             shape_str(first.shape()));
  const int64_t d = wrap_dim(dim, first.dim(), "concat");

  Shape out_shape = first.shape();
  out_shape[size_t(d)] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    HQLT_CHECK(x.dtype() == first.dtype(), "concat: argument 'xs[", i, "]': expected dtype ",
               dtype_name(first.dtype()), " (as 'xs[0]'), got ", dtype_name(x.dtype()));
    HQLT_CHECK(x.device() == first.device(), "concat: argument 'xs[", i, "]': expected device ",
               device_name(first.device()), " (as 'xs[0]'), got ", device_name(x.device()));
    bool fits = x.dim() == first.dim();
    for (int64_t k = 0; fits && k < x.dim(); ++k)
      fits = k == d || x.shape()[size_t(k)] == first.shape()[size_t(k)];
    HQLT_CHECK(fits, "concat: argument 'xs[", i, "]': expected shape ", shape_str(first.shape()),
               " (as 'xs[0]') except along dim ", dim, ", got ", shape_str(x.shape()));
    out_shape[size_t(d)] += x.shape()[size_t(d)];
  }

  // Each input is copied into the slice of the output that it covers.
  Tensor out = empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> starts(xs.size());
  int64_t at = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    int64_t n = xs[i].shape()[size_t(d)];
    starts[i] = at;
    copy_into(out.slice(d, at, at + n), xs[i]);
    at += n;
  }

  if (autograd::needs_grad(xs)) {
    std::vector<int64_t> sizes(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) sizes[i] = xs[i].shape()[size_t(d)];
    autograd::record("concat", xs, {out}, [d, starts, sizes](const TensorList& g, const Needs& needs) {
      // dxs[i] is the slice of dout over xs[i]: a view, no copy.
      TensorList grads(needs.size());
      for (size_t i = 0; i < needs.size(); ++i)
        if (needs[i]) grads[i] = g[0].slice(d, starts[i], starts[i] + sizes[i]);
      return grads;
    });
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  ops::check_defined("split", "x", x);
  ops::check_device_built("split", x);
  HQLT_CHECK(x.dim() >= 1, "split: argument 'x': expected rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  HQLT_CHECK(!sizes.empty(), "split: argument 'sizes': expected at least one size, got none");
  int64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    HQLT_CHECK(sizes[i] >= 0, "split: argument 'sizes': expected sizes >= 0, got ", sizes[i], " at position ", i);
    total += sizes[i];
  }
  const int64_t n = x.shape()[size_t(d)];
  HQLT_CHECK(total == n, "split: argument 'sizes': expected sizes that sum to ", n, " (dim ", dim, " of shape ",
             shape_str(x.shape()), "), got a sum of ", total);

  // Piece i is a view of x: same strides, offset moved to its first row along d.
  std::vector<Tensor> pieces;
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (int64_t size : sizes) {
    Shape shape = x.shape();
    shape[size_t(d)] = size;
    pieces.push_back(as_strided(x, shape, x.strides(), x.offset() + at * x.strides()[size_t(d)]));
    starts.push_back(at);
    at += size;
  }

  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    DType dtype = x.dtype();
    Device device = x.device();
    autograd::record("split", {x}, pieces, [in_shape, dtype, device, d, starts, sizes](const TensorList& g,
                                                                                        const Needs&) {
      // dx starts at zero, so a piece with no gradient (undefined g[i]) contributes zeros.
      Tensor dx = zeros(in_shape, dtype, device);
      for (size_t i = 0; i < g.size(); ++i)
        if (g[i].defined()) copy_into(dx.slice(d, starts[i], starts[i] + sizes[i]), g[i]);
      return TensorList{dx};
    });
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  ops::check_defined("chunk", "x", x);
  HQLT_CHECK(chunks >= 1, "chunk: argument 'chunks': expected >= 1, got ", chunks);
  HQLT_CHECK(x.dim() >= 1, "chunk: argument 'x': expected rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t n = x.shape()[size_t(wrap_dim(dim, x.dim(), "chunk"))];
  // torch.chunk: every piece has ceil(n / chunks) rows except a shorter last one; an empty
  // dim still gives `chunks` (empty) pieces.
  std::vector<int64_t> sizes;
  if (n == 0) {
    sizes.assign(size_t(chunks), 0);
  } else {
    const int64_t step = (n + chunks - 1) / chunks;
    for (int64_t at = 0; at < n; at += step) sizes.push_back(std::min(step, n - at));
  }
  return split(x, sizes, dim);
}

}  // namespace hqlt
