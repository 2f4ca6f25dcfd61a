#pragma once
// Causal depthwise 1-D convolution along time, no bias: the `ShortConvolution` of the
// models (docs/math/models.md §1.4). Every channel c has its own K taps, and output t sees only
// inputs t-K+1 .. t (zeros left of t = 0):
//
//   y[b, t, c] = Σ_{j=0}^{K-1} w[c, j] · x[b, t-(K-1)+j, c]        (x[b, <0, c] = 0)
//
// so w[c, K-1] multiplies the current token. This is PyTorch's
// Conv1d(Ch, Ch, K, groups=Ch, padding=K-1, bias=False) on x transposed to [B, Ch, T], cut
// to its first T outputs. Backward (docs/math/kernels.md §7.8):
//
//   dx[b, s, c] = Σ_j w[c, j] · dy[b, s+(K-1)-j, c]     (terms past T-1 dropped: anti-causal)
//   dw[c, j]    = Σ_{b,t} dy[b, t, c] · x[b, t-(K-1)+j, c]
//
// dw is reduced over (b, t) in fixed-size row blocks whose partial sums are added in block
// order, so its bits do not depend on the thread count. On cuda (causal_conv1d.cu) every
// output element has one thread, and dw is reduced in the same row blocks and order
// (causal_conv1d_math.h), without atomics.
//
//   x       [B, T, Ch]            channels last, any strides, f32 or f64
//   weight  [Ch, 1, K] or [Ch, K]  the checkpoint layout of ShortConvolution, or its squeeze
//   ->  y   [B, T, Ch]            contiguous, x's dtype
//
// K is any size ≥ 1 (4 in the models; K > T is fine: the taps that would read before
// t = 0 just meet zeros). Saved for backward: a contiguous copy of x (only when weight
// needs a gradient) and of weight (only when x needs one); nothing else.
#include "engine/tensor.h"

namespace hqlt {

Tensor causal_conv1d(const Tensor& x, const Tensor& weight);

}  // namespace hqlt
