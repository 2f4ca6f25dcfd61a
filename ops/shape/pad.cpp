#include "ops/shape/pad.h"

#include "ops/op_utils.h"

namespace hqlt {

Tensor pad(const Tensor& x, int64_t dim, int64_t before, int64_t after, double value) {
  ops::check_defined("pad", "x", x);
  ops::check_device_built("pad", x);
  HQLT_CHECK(x.dim() >= 1, "pad: argument 'x': expected rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim(), "pad");
  HQLT_CHECK(before >= 0, "pad: argument 'before': expected >= 0, got ", before);
  HQLT_CHECK(after >= 0, "pad: argument 'after': expected >= 0, got ", after);

  const int64_t n = x.shape()[size_t(d)];
  Shape out_shape = x.shape();
  out_shape[size_t(d)] = before + n + after;
  Tensor out = full(out_shape, value, x.dtype(), x.device());
  copy_into(out.slice(d, before, before + n), x);

  if (autograd::needs_grad({x})) {
    autograd::record("pad", {x}, {out}, [d, before, n](const autograd::TensorList& g, const std::vector<bool>&) {
      return autograd::TensorList{g[0].slice(d, before, before + n)};
    });
  }
  return out;
}

}  // namespace hqlt
