#pragma once
// Constant padding along one dim: `before` copies of `value` in front of x along dim and
// `after` copies behind it.
//
//   out[.., j, ..] = x[.., j - before, ..]   for before <= j < before + N
//                  = value                   otherwise
//
//   x:      [.., N, ..] with N along dim (negative dim counts from the end); any dtype
//   before, after: >= 0
//   out:    [.., before + N + after, ..], a fresh contiguous tensor
//
// Backward: dx is the slice dout[.., before : before + N, ..] (a view); the padding got
// a constant, so no gradient flows from it. Saved: only the offsets. On cuda the engine's
// fill and copy kernels (engine/cuda/copy.cu) do the work.
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor pad(const Tensor& x, int64_t dim, int64_t before, int64_t after, double value = 0);

}  // namespace hqlt
