#include "ops/shape/views.h"

#include <numeric>

#include "ops/op_utils.h"

namespace hqlt {

using autograd::TensorList;
using Needs = std::vector<bool>;

Tensor reshape(const Tensor& x, const Shape& shape) {
  ops::check_defined("reshape", "x", x);
  Shape target = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      HQLT_CHECK(infer_at < 0, "reshape: only one size may be -1, got ", shape_str(shape));
      infer_at = int64_t(i);
    } else {
      HQLT_CHECK(target[i] >= 0, "reshape: invalid size ", target[i], " in ", shape_str(shape));
      known *= target[i];
    }
  }
  if (infer_at >= 0) {
    HQLT_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot infer -1 in ", shape_str(shape),
               " for ", x.numel(), " elements");
    target[size_t(infer_at)] = x.numel() / known;
  }
  HQLT_CHECK(numel_of(target) == x.numel(), "reshape: shape ", shape_str(shape), " does not fit ", x.numel(),
             " elements of a tensor of shape ", shape_str(x.shape()));
  if (target == x.shape()) return x;
  Tensor source = x.is_contiguous() ? x : clone_contiguous(x);
  Tensor out = as_strided(source, target, contiguous_strides(target), source.offset());
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("reshape", {x}, {out}, [in_shape](const TensorList& g, const Needs&) {
      return TensorList{reshape(g[0], in_shape)};
    });
  }
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  ops::check_defined("permute", "x", x);
  HQLT_CHECK(int64_t(dims.size()) == x.dim(), "permute: expected ", x.dim(), " dims, got ", dims.size());
  std::vector<int64_t> d(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape shape(dims.size());
  Strides strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    d[i] = wrap_dim(dims[i], x.dim(), "permute");
    HQLT_CHECK(!seen[size_t(d[i])], "permute: dim ", dims[i], " appears twice");
    seen[size_t(d[i])] = true;
    shape[i] = x.shape()[size_t(d[i])];
    strides[i] = x.strides()[size_t(d[i])];
    inverse[size_t(d[i])] = int64_t(i);
  }
  Tensor out = as_strided(x, shape, strides, x.offset());
  if (autograd::needs_grad({x})) {
    autograd::record("permute", {x}, {out}, [inverse](const TensorList& g, const Needs&) {
      return TensorList{permute(g[0], inverse)};
    });
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  ops::check_defined("transpose", "x", x);
  std::vector<int64_t> dims(size_t(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[size_t(wrap_dim(d0, x.dim(), "transpose"))], dims[size_t(wrap_dim(d1, x.dim(), "transpose"))]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  ops::check_defined("slice", "x", x);
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  HQLT_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = x.shape()[size_t(d)];
  auto clamp = [n](int64_t i) { return std::min(std::max(i < 0 ? i + n : i, int64_t(0)), n); };
  int64_t s = clamp(start), e = std::max(clamp(end), clamp(start));
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[size_t(d)] = (e - s + step - 1) / step;
  strides[size_t(d)] *= step;
  Tensor out = as_strided(x, shape, strides, x.offset() + s * x.strides()[size_t(d)]);
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("slice", {x}, {out}, [in_shape, d, s, e, step](const TensorList& g, const Needs&) {
      Tensor dx = zeros(in_shape, g[0].dtype(), g[0].device());
      copy_into(slice(dx, d, s, e, step), g[0]);
      return TensorList{dx};
    });
  }
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  ops::check_defined("unsqueeze", "x", x);
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Strides strides = x.strides();
  int64_t stride = d < x.dim() ? x.strides()[size_t(d)] * x.shape()[size_t(d)] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  Tensor out = as_strided(x, shape, strides, x.offset());
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("unsqueeze", {x}, {out}, [in_shape](const TensorList& g, const Needs&) {
      return TensorList{reshape(g[0], in_shape)};
    });
  }
  return out;
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  ops::check_defined("squeeze", "x", x);
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  HQLT_CHECK(x.shape()[size_t(d)] == 1, "squeeze: dim ", dim, " has size ", x.shape()[size_t(d)],
             ", expected 1 (shape ", shape_str(x.shape()), ")");
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  Tensor out = as_strided(x, shape, strides, x.offset());
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("squeeze", {x}, {out}, [in_shape](const TensorList& g, const Needs&) {
      return TensorList{reshape(g[0], in_shape)};
    });
  }
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  ops::check_defined("expand", "x", x);
  HQLT_CHECK(int64_t(shape.size()) >= x.dim(), "expand: target ", shape_str(shape), " has fewer dims than ",
             shape_str(x.shape()));
  Shape target = shape;
  size_t lead = shape.size() - size_t(x.dim());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      HQLT_CHECK(target[i] >= 0, "expand: size -1 is not allowed in a new leading dim");
      continue;
    }
    int64_t have = x.shape()[i - lead];
    if (target[i] == -1) target[i] = have;
    HQLT_CHECK(have == target[i] || have == 1, "expand: cannot expand ", shape_str(x.shape()), " to ",
               shape_str(shape), " (dim ", i, ": ", have, " -> ", target[i], ")");
  }
  if (target == x.shape()) return x;
  Tensor out = as_strided(x, target, ops::broadcast_strides(x, target), x.offset());
  if (autograd::needs_grad({x})) {
    Shape in_shape = x.shape();
    autograd::record("expand", {x}, {out}, [in_shape](const TensorList& g, const Needs&) {
      return TensorList{ops::sum_to(g[0], in_shape)};
    });
  }
  return out;
}

Tensor contiguous(const Tensor& x) {
  ops::check_defined("contiguous", "x", x);
  if (x.is_contiguous()) return x;
  Tensor out = clone_contiguous(x);
  if (autograd::needs_grad({x})) {
    autograd::record("contiguous", {x}, {out}, [](const TensorList& g, const Needs&) { return TensorList{g[0]}; });
  }
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  ops::check_defined("to", "x", x);
  if (x.device() == device) return x;
  Tensor out = empty(x.shape(), x.dtype(), device);
  copy_into(out, x.is_contiguous() ? x : clone_contiguous(x));
  if (autograd::needs_grad({x})) {
    Device from = x.device();
    autograd::record("to_device", {x}, {out}, [from](const TensorList& g, const Needs&) {
      return TensorList{to_device(g[0], from)};
    });
  }
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  ops::check_defined("to", "x", x);
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), dtype, x.device());
  copy_into(out, x);
  if (autograd::needs_grad({x})) {
    HQLT_CHECK(is_floating(dtype), "to: a tensor that requires grad can only be cast to f32 or f64, not ",
               dtype_name(dtype));
    DType from = x.dtype();
    autograd::record("to_dtype", {x}, {out}, [from](const TensorList& g, const Needs&) {
      return TensorList{to_dtype(g[0], from)};
    });
  }
  return out;
}

// ---- the Tensor methods declared in engine/tensor.h ------------------------------------
Tensor Tensor::reshape(const Shape& shape) const { return hqlt::reshape(*this, shape); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return hqlt::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return hqlt::permute(*this, dims); }
Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  return hqlt::slice(*this, dim, start, end, step);
}
Tensor Tensor::unsqueeze(int64_t dim) const { return hqlt::unsqueeze(*this, dim); }
Tensor Tensor::squeeze(int64_t dim) const { return hqlt::squeeze(*this, dim); }
Tensor Tensor::expand(const Shape& shape) const { return hqlt::expand(*this, shape); }
Tensor Tensor::contiguous() const { return hqlt::contiguous(*this); }
Tensor Tensor::to(Device device) const { return to_device(*this, device); }
Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }

}  // namespace hqlt
