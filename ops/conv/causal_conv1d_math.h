#pragma once
// The per-element math of causal_conv1d (causal_conv1d.h), written once for the CUDA
// kernels (causal_conv1d.cu) and checked on the host against the CPU loops
// (tests/ops/test_conv_math.cpp). The CPU loops keep their own row-major order so
// that they vectorise over channels; each function here adds the same terms in the same
// order as they do (ascending tap j, ascending row within a block, blocks in order).
#include <cstdint>

#include "engine/host_device.h"

namespace hqlt::detail {

// The sizes every kernel needs; x and y are contiguous [B, T, Ch], taps contiguous [K, Ch].
struct ConvShape {
  int64_t batch, time, channels, taps;
  HQLT_HD int64_t rows() const { return batch * time; }
  HQLT_HD int64_t work() const { return rows() * channels * taps; }
};

// Rows of (b, t) per block of the dw reduction. Fixed, so the summation order (within a
// block by row, then across blocks in order) depends on neither the thread count nor the device.
constexpr int64_t kConvRowsPerBlock = 128;
HQLT_HD inline int64_t conv_row_blocks(const ConvShape& s) {
  return (s.rows() + kConvRowsPerBlock - 1) / kConvRowsPerBlock;
}

// Element e of out [B, T, Ch]: Σ_j taps[j, c] · in[b, t ∓ (K-1-j), c], zeros outside 0..T-1.
// Causal (−) is the forward; anti-causal (+) its transpose, dx from dy.
template <typename T>
HQLT_HD T shifted_tap_value(const T* in, const T* taps, const ConvShape& s, bool anti_causal, int64_t e) {
  const int64_t c = e % s.channels, r = e / s.channels;
  const int64_t b = r / s.time, t = r % s.time;
  T acc = T(0);
  for (int64_t j = 0; j < s.taps; ++j) {
    const int64_t lag = s.taps - 1 - j;
    const int64_t src = anti_causal ? t + lag : t - lag;
    if (src < 0 || src >= s.time) continue;
    acc += taps[j * s.channels + c] * in[(b * s.time + src) * s.channels + c];
  }
  return acc;
}

// Element e of the partial sums [blocks, K, Ch]: Σ over the rows r = (b, t) of block blk of
// dy[r, c] · x[b, t-(K-1-j), c].
template <typename T>
HQLT_HD T dw_block_partial(const T* dy, const T* x, const ConvShape& s, int64_t e) {
  const int64_t c = e % s.channels, j = (e / s.channels) % s.taps, blk = e / (s.channels * s.taps);
  const int64_t lag = s.taps - 1 - j;
  const int64_t end = hd_min(s.rows(), (blk + 1) * kConvRowsPerBlock);
  T acc = T(0);
  for (int64_t r = blk * kConvRowsPerBlock; r < end; ++r) {
    const int64_t t = r % s.time;
    if (t < lag) continue;
    acc += dy[r * s.channels + c] * x[(r - lag) * s.channels + c];
  }
  return acc;
}

// dw[c, j] for e = j·Ch + c: the partial sums of every block, added in block order.
template <typename T>
HQLT_HD T dw_total(const T* partial, const ConvShape& s, int64_t e) {
  const int64_t per_block = s.taps * s.channels;
  T acc = T(0);
  for (int64_t blk = 0; blk < conv_row_blocks(s); ++blk) acc += partial[blk * per_block + e];
  return acc;
}

}  // namespace hqlt::detail
