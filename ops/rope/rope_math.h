#pragma once
// The per-pair math of rope (rope.h), written once for the CPU loop (rope.cpp) and the CUDA
// kernel (rope.cu). The frequencies ω_i are computed on the host only: f32 std::pow is not
// the device's powf to the bit, and the reference's table is built from f32 values
// (docs/math/models.md §1.5, precision detail); the angle p·ω_i is one f32 product on either side.
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/host_device.h"

namespace hqlt::detail {

// ω_i = 1 / base^(2i/d) in f32, i < d/2.
inline std::vector<float> rope_inv_freqs(int64_t head_dim, double base) {
  std::vector<float> inv_freq(size_t(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i)
    inv_freq[size_t(i)] = 1.0f / std::pow(float(base), float(2 * i) / float(head_dim));
  return inv_freq;
}

// cos φ and sin φ for φ = p·ω in f32, evaluated in f64 and rounded to T.
template <typename T>
HQLT_HD void rope_cos_sin(int64_t position, float inv_freq, T& c, T& s) {
  const float angle = float(position) * inv_freq;
  c = T(std::cos(double(angle)));
  s = T(std::sin(double(angle)));
}

// The pair (x_i, x_{i+m}) rotated by the angle whose cosine is c and sine is s (s already
// negated for the backward's rotation by −φ).
template <typename T>
HQLT_HD void rotate_pair(T x1, T x2, T c, T s, T& y1, T& y2) {
  y1 = x1 * c - x2 * s;
  y2 = x2 * c + x1 * s;
}

// The GPU's unit of work (rope.cu): pair e = r·m + i of the rows r = b·T + t of contiguous
// [B, T, H, d] tensors, rotated in every head with one evaluation of cos φ, sin φ. The host
// test runs it for every e against the CPU loop (tests/ops/test_rope_math.cpp).
struct RopeShape {
  int64_t rows, time, heads, head_dim, position_offset;
};

template <typename T>
HQLT_HD void rotate_pair_in_every_head(const T* in, const float* inv_freq, const RopeShape& s, T sign, int64_t e,
                                       T* out) {
  const int64_t half = s.head_dim / 2, r = e / half, i = e % half;
  T c, sn;
  rope_cos_sin<T>(s.position_offset + r % s.time, inv_freq[i], c, sn);
  sn = sign * sn;
  for (int64_t h = 0; h < s.heads; ++h) {
    const int64_t at = (r * s.heads + h) * s.head_dim + i;
    rotate_pair(in[at], in[at + half], c, sn, out[at], out[at + half]);
  }
}

}  // namespace hqlt::detail
