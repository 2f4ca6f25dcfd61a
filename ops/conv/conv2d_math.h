#pragma once
// The per-element math of conv2d (conv2d.h), written once: the CPU loops (conv2d.cpp) and
// the CUDA kernels (conv2d.cu) both call these functions, one output element per call, so
// the two devices add the same terms in the same order. The weight and bias gradients are
// reduced over the images in fixed blocks of kConv2dImagesPerBlock, the blocks added in
// order: the bits depend neither on the thread count nor on the device.
#include <cstdint>

#include "engine/host_device.h"

namespace hqlt::detail {

// x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW] with OH = H − KH + 1, OW = W − KW + 1;
// every tensor contiguous.
struct Conv2dShape {
  int64_t images, in_channels, height, width, out_channels, kernel_h, kernel_w;
  HQLT_HD int64_t out_h() const { return height - kernel_h + 1; }
  HQLT_HD int64_t out_w() const { return width - kernel_w + 1; }
  HQLT_HD int64_t taps() const { return in_channels * kernel_h * kernel_w; }
  HQLT_HD int64_t output_numel() const { return images * out_channels * out_h() * out_w(); }
  HQLT_HD int64_t input_numel() const { return images * in_channels * height * width; }
  HQLT_HD int64_t weight_numel() const { return out_channels * taps(); }
};

constexpr int64_t kConv2dImagesPerBlock = 64;
HQLT_HD inline int64_t conv2d_image_blocks(const Conv2dShape& s) {
  return (s.images + kConv2dImagesPerBlock - 1) / kConv2dImagesPerBlock;
}

// y[n, o, i, j] = Σ_{c, p, q} w[o, c, p, q] · x[n, c, i + p, j + q] (+ bias[o] last), for the
// element e of y; `bias` may be null.
template <typename T>
HQLT_HD T conv2d_output(const T* x, const T* w, const T* bias, const Conv2dShape& s, int64_t e) {
  const int64_t j = e % s.out_w(), i = (e / s.out_w()) % s.out_h();
  const int64_t o = (e / (s.out_w() * s.out_h())) % s.out_channels, n = e / (s.out_w() * s.out_h() * s.out_channels);
  T acc = T(0);
  for (int64_t c = 0; c < s.in_channels; ++c)
    for (int64_t p = 0; p < s.kernel_h; ++p) {
      const T* x_row = x + ((n * s.in_channels + c) * s.height + i + p) * s.width + j;
      const T* w_row = w + ((o * s.in_channels + c) * s.kernel_h + p) * s.kernel_w;
      for (int64_t q = 0; q < s.kernel_w; ++q) acc += w_row[q] * x_row[q];
    }
  return bias ? acc + bias[o] : acc;
}

// dx[n, c, a, b] = Σ_{o, p, q} w[o, c, p, q] · dy[n, o, a − p, b − q] over the (p, q) that
// land inside dy, for the element e of dx.
template <typename T>
HQLT_HD T conv2d_input_grad(const T* dy, const T* w, const Conv2dShape& s, int64_t e) {
  const int64_t b = e % s.width, a = (e / s.width) % s.height;
  const int64_t c = (e / (s.width * s.height)) % s.in_channels, n = e / (s.width * s.height * s.in_channels);
  T acc = T(0);
  for (int64_t o = 0; o < s.out_channels; ++o)
    for (int64_t p = hd_max<int64_t>(0, a - s.out_h() + 1); p <= hd_min<int64_t>(s.kernel_h - 1, a); ++p)
      for (int64_t q = hd_max<int64_t>(0, b - s.out_w() + 1); q <= hd_min<int64_t>(s.kernel_w - 1, b); ++q)
        acc += w[((o * s.in_channels + c) * s.kernel_h + p) * s.kernel_w + q] *
               dy[((n * s.out_channels + o) * s.out_h() + a - p) * s.out_w() + b - q];
  return acc;
}

// Element e of the weight gradient's partial sums [blocks, O, C, KH, KW]: over the images
// of block blk, Σ_{n, i, j} dy[n, o, i, j] · x[n, c, i + p, j + q].
template <typename T>
HQLT_HD T conv2d_weight_grad_partial(const T* dy, const T* x, const Conv2dShape& s, int64_t e) {
  const int64_t q = e % s.kernel_w, p = (e / s.kernel_w) % s.kernel_h;
  const int64_t c = (e / (s.kernel_w * s.kernel_h)) % s.in_channels;
  const int64_t o = (e / s.taps()) % s.out_channels, blk = e / s.weight_numel();
  const int64_t end = hd_min(s.images, (blk + 1) * kConv2dImagesPerBlock);
  T acc = T(0);
  for (int64_t n = blk * kConv2dImagesPerBlock; n < end; ++n)
    for (int64_t i = 0; i < s.out_h(); ++i) {
      const T* dy_row = dy + ((n * s.out_channels + o) * s.out_h() + i) * s.out_w();
      const T* x_row = x + ((n * s.in_channels + c) * s.height + i + p) * s.width + q;
      for (int64_t j = 0; j < s.out_w(); ++j) acc += dy_row[j] * x_row[j];
    }
  return acc;
}

// Element e (= o) of the bias gradient's partial sums [blocks, O]: Σ_{n in blk, i, j} dy.
template <typename T>
HQLT_HD T conv2d_bias_grad_partial(const T* dy, const Conv2dShape& s, int64_t e) {
  const int64_t o = e % s.out_channels, blk = e / s.out_channels;
  const int64_t end = hd_min(s.images, (blk + 1) * kConv2dImagesPerBlock), plane = s.out_h() * s.out_w();
  T acc = T(0);
  for (int64_t n = blk * kConv2dImagesPerBlock; n < end; ++n)
    for (int64_t k = 0; k < plane; ++k) acc += dy[(n * s.out_channels + o) * plane + k];
  return acc;
}

// Element e of a gradient of `per_block` elements: its partial sums added in block order.
template <typename T>
HQLT_HD T conv2d_blocks_total(const T* partial, int64_t per_block, const Conv2dShape& s, int64_t e) {
  T acc = T(0);
  for (int64_t blk = 0; blk < conv2d_image_blocks(s); ++blk) acc += partial[blk * per_block + e];
  return acc;
}

}  // namespace hqlt::detail
