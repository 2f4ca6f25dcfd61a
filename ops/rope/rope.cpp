#include "ops/rope/rope.h"

#include <cmath>
#include <vector>

#include "engine/parallel.h"
#include "ops/op_utils.h"

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
  // ω_i and φ in f32, the way the reference builds its table (spec §1.5, precision detail):
  // inv_freq = 1 / base^(2i/d) on f32 values, then an f32 product with the f32 position.
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[size_t(i)] = 1.0f / std::pow(float(base), float(2 * i) / float(head_dim));
  RotationTable<T> table{std::vector<T>(size_t(time * half)), std::vector<T>(size_t(time * half))};
  for (int64_t t = 0; t < time; ++t) {
    const float p = float(position_offset + t);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = p * inv_freq[size_t(i)];
      table.cos[size_t(t * half + i)] = T(std::cos(double(angle)));
      table.sin[size_t(t * half + i)] = T(std::sin(double(angle)));
    }
  }
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
      for (int64_t i = 0; i < half; ++i) {
        const T x1 = x[i], x2 = x[i + half], si = sign * s[i];
        y[i] = x1 * c[i] - x2 * si;
        y[i + half] = x2 * c[i] + x1 * si;
      }
    }
  }
}

// y = rotation of x (any strides) by ±φ, as a fresh contiguous tensor.
Tensor rotated(const Tensor& x, double base, int64_t position_offset, int direction) {
  Tensor xc = x.is_contiguous() ? x : clone_contiguous(x);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), kOp, [&]<typename T>() {
    auto table = rotation_table<T>(x.size(1), x.size(3), base, position_offset);
    rotate<T>(xc.data<T>(), y.data<T>(), x.shape(), table, direction);
  });
  return y;
}

void check_arguments(const Tensor& x, double base, int64_t position_offset) {
  ops::check_rank(kOp, "x", x, 4);
  ops::check_floating(kOp, "x", x);
  ops::check_cpu(kOp, x);
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
