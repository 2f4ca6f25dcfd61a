#pragma once
// Choosing between two tensors elementwise by a condition: where and masked_fill.
//
//   where(cond, a, b)      out = cond ? a : b, over the broadcast shape of all three
//     cond:  any shape broadcastable with a and b; any dtype, nonzero (or NaN) = true
//            (i32/i64 masks, or a float 0/1 tensor)
//     a, b:  f32/f64 of one dtype, broadcastable (e.g. scores [B, H, T, T] and a
//            scalar-shaped [1] fill value)
//     out:   broadcast_shapes(cond, a, b), a fresh contiguous tensor
//     Backward: da = sum_to(cond ? dout : 0, a.shape), db = sum_to(cond ? 0 : dout, b.shape)
//
//   masked_fill(x, mask, value)   out = mask ? value : x
//     x:     f32/f64, any shape; mask: any dtype (nonzero = true), broadcastable to x's
//            shape without growing it (e.g. a causal mask [T, T] for scores [B, H, T, T])
//     out:   x's shape
//     Backward: dx = mask ? 0 : dout (a filled element no longer depends on x)
//
// Saved for backward: the condition / mask (a detached handle, no copy); never a, b or x.
// On cuda (where.cu) the condition must live on the values' device; any strides are read
// in place on either device.
#include "engine/tensor.h"

namespace hqlt {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

}  // namespace hqlt
