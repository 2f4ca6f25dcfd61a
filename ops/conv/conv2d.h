#pragma once
// 2-D convolution, stride 1, no padding ("valid"), with an optional bias: the CNN that
// encodes the grid worlds' 5x5 views for the RL agent (docs/math/rl.md). PyTorch's
// Conv2d(C, O, (KH, KW)) with its defaults:
//
//   y[n, o, i, j] = b[o] + Σ_{c, p, q} w[o, c, p, q] · x[n, c, i + p, j + q]
//
// and its backward (docs/math/kernels.md §7.12):
//
//   dx[n, c, a, b] = Σ_{o, p, q} w[o, c, p, q] · dy[n, o, a − p, b − q]   (terms inside dy)
//   dw[o, c, p, q] = Σ_{n, i, j} dy[n, o, i, j] · x[n, c, i + p, j + q]
//   db[o]          = Σ_{n, i, j} dy[n, o, i, j]
//
// Every output element is computed by one thread from conv2d_math.h, on the CPU and on cuda
// alike; dw and db are reduced over the images in fixed blocks added in order, so the bits
// depend neither on the thread count nor on the device.
//
//   x       [N, C, H, W]    any strides, f32 or f64
//   weight  [O, C, KH, KW]  KH <= H, KW <= W
//   bias    [O] or undefined
//   ->  y   [N, O, H − KH + 1, W − KW + 1]   contiguous, x's dtype
//
// Saved for backward: contiguous copies of x (for dw) and of weight (for dx), each only when
// that gradient is wanted.
#include "engine/tensor.h"

namespace hqlt {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace hqlt
