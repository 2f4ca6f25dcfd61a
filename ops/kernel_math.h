#pragma once
// Small pieces shared by the fused CPU kernels (attention, linear attention, the
// Delayed-Chunk hybrid, the delta rule).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"

namespace hqlt::kernels {

// e^x for x ≤ 0 — every argument in the kernels is a score minus its row maximum or
// log-sum-exp, or the negative half of elu+1. The float version is written so that a loop
// over it vectorises (std::exp does not, without -ffast-math): x = n·ln2 + r with
// |r| ≤ ln2/2, e^r by a Cephes-style polynomial (relative error ~1e-7), 2^n built from the
// exponent bits. Below −87 (e^−87 ≈ 1.6e-38, the bottom of f32's normal range) it returns
// exactly 0, so a masked score of −inf contributes nothing. The double version is std::exp.
// Always inlined: a call in a loop body (the compiler sometimes declines to inline it in a
// large instantiation) would stop the loop from vectorising. HQLT_HD: the GPU's sigmoid
// (ops/elementwise/elementwise.cu) runs this same code.
HQLT_HD HQLT_ALWAYS_INLINE float exp_nonpositive(float x) {
  // Written so that a NaN clamps to −87 (every comparison with it is false): converting a
  // NaN to an integer below would be undefined. The NaN itself is passed on at the end.
  const float xc = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
  const float kRound = 12582912.0f;  // 1.5·2^23: adding and subtracting it rounds to an integer
  const float n = (xc * 1.44269504088896341f + kRound) - kRound;  // round(x / ln 2)
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;  // x − n·ln 2 in two parts
  float poly = 1.9875691500e-4f;
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  poly = poly * r * r + r + 1.0f;
  const float two_to_n = hd_bit_cast_float((int32_t(n) + 127) << 23);
  return x < -87.0f ? 0.0f : (x == x ? poly * two_to_n : x);
}
HQLT_HD inline double exp_nonpositive(double x) { return std::exp(x); }

// σ(x) = 1 / (1 + e^−x) from e = e^−|x| ∈ [0, 1], which cannot overflow: 1 / (1 + e) for
// x ≥ 0 and e / (1 + e) below. In f32 it vectorises (exp_nonpositive and a select), so the
// element-wise loops of sigmoid, silu and swiglu run on whole vectors. The double version
// is the plain formula with std::exp.
HQLT_HD HQLT_ALWAYS_INLINE float sigmoid(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  const float r = 1.0f / (1.0f + e);
  return x >= 0.0f ? r : e * r;
}
HQLT_HD inline double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// A bump allocator over one thread's slice of a workspace tensor. With a null base it only
// measures, so the size of a layout is computed by the same code that carves it.
template <typename T>
class Arena {
 public:
  explicit Arena(T* base = nullptr) : base_(base) {}
  T* take(int64_t count) {
    constexpr int64_t align = 64 / int64_t(sizeof(T));  // every buffer on its own cache line
    T* p = base_ ? base_ + used_ : nullptr;
    used_ += (count + align - 1) / align * align;
    return p;
  }
  int64_t used() const { return used_; }

 private:
  T* base_;
  int64_t used_ = 0;
};

}  // namespace hqlt::kernels
