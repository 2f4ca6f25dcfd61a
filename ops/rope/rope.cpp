#include "ops/rope/rope.h"

#include <cmath>
#include <vector>

#include "engine/device.h"
#include "engine/parallel.h"
#include "ops/op_utils.h"
#include "ops/rope/rope_cuda.h"
#include "ops/rope/rope_math.h"

namespace hqlt {
namespace {

using autograd::TensorList;
constexpr const char* kOp = "rope";

// cos φ_{p,i} and sin φ_{p,i} for p = position_offset + t, t < T, i < m, row-major [T, m].
template <typename T>
struct RotationTable {
  std::vector<T> cos, sin;
};

template <typename T>
RotationTable<T> rotation_table(int64_t time, int64_t head_dim, double base, int64_t position_offset) {
  const int64_t half = head_dim / 2;
  const std::vector<float> inv_freq = detail::rope_inv_freqs(head_dim, base);
  RotationTable<T> table{std::vector<T>(size_t(time * half)), std::vector<T>(size_t(time * half))};
  for (int64_t t = 0; t < time; ++t)
    for (int64_t i = 0; i < half; ++i)
      detail::rope_cos_sin<T>(position_offset + t, inv_freq[size_t(i)], table.cos[size_t(t * half + i)],
                              table.sin[size_t(t * half + i)]);
  return table;
}

// out = in with every head vector rotated by +φ (direction = +1, the forward) or by −φ
// (direction = −1, the backward). in and out are contiguous [B, T, H, d]; each (b, t)
// row is independent, so rows are split across threads.
template <typename T>
void rotate(const T* in, T* out, const Shape& shape, const RotationTable<T>& table, int direction) {
  const int64_t time = shape[1], heads = shape[2], head_dim = shape[3], half = head_dim / 2;
  const int64_t rows = shape[0] * time;
  const T sign = T(direction);
#pragma omp parallel for schedule(static) if (should_parallelize(rows * heads * head_dim))
  for (int64_t r = 0; r < rows; ++r) {
    const T* c = table.cos.data() + (r % time) * half;
    const T* s = table.sin.data() + (r % time) * half;
    for (int64_t h = 0; h < heads; ++h) {
      const T* x = in + (r * heads + h) * head_dim;
      T* y = out + (r * heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) detail::rotate_pair(x[i], x[i + half], c[i], sign * s[i], y[i], y[i + half]);
    }
  }
}

// y = rotation of x (any strides) by ±φ, as a fresh contiguous tensor on x's device.
Tensor rotated(const Tensor& x, double base, int64_t position_offset, int direction) {
  Tensor xc = ops::contiguous_detached(x);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  if constexpr (kWithCuda) {
    if (x.device() == Device::cuda) {
      detail::rope_rotate_cuda(xc, y, detail::rope_inv_freqs(x.size(3), base), position_offset, direction);
      return y;
    }
  }
  dispatch_float(x.dtype(), kOp, [&]<typename T>() {
    auto table = rotation_table<T>(x.size(1), x.size(3), base, position_offset);
    rotate<T>(xc.data<T>(), y.data<T>(), x.shape(), table, direction);
  });
  return y;
}

void check_arguments(const Tensor& x, double base, int64_t position_offset) {
  ops::check_rank(kOp, "x", x, 4);
  ops::check_floating(kOp, "x", x);
  ops::check_device_built(kOp, x);
  HQLT_CHECK(x.size(3) >= 2 && x.size(3) % 2 == 0, kOp,
             ": argument 'x': expected an even head dim d >= 2 in [B, T, H, d] (pairs i, i+d/2 rotate), got shape ",
             shape_str(x.shape()));
  HQLT_CHECK(std::isfinite(base) && base > 0, kOp, ": argument 'base': expected a finite value > 0, got ", base);
  HQLT_CHECK(position_offset >= 0, kOp, ": argument 'position_offset': expected >= 0, got ", position_offset);
}

}  // namespace

Tensor rope(const Tensor& x, double base, int64_t position_offset) {
  check_arguments(x, base, position_offset);
  Tensor y = rotated(x.detach(), base, position_offset, +1);
  if (autograd::needs_grad({x})) {
    autograd::record(kOp, {x}, {y}, [base, position_offset](const TensorList& g, const std::vector<bool>&) {
      return TensorList{rotated(g[0], base, position_offset, -1)};
    });
  }
  return y;
}

}  // namespace hqlt
