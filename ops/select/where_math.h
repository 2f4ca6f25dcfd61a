#pragma once
// The per-element rule of where and masked_fill (where.h), shared by the CPU loop
// (where.cpp) and the CUDA kernel (where.cu): a condition is true where it is nonzero, so
// NaN counts as true, as in PyTorch.
#include "engine/host_device.h"

namespace hqlt::detail {

template <typename T, typename C>
HQLT_HD T choose(C cond, T a, T b) {
  return cond != C(0) ? a : b;
}

}  // namespace hqlt::detail
