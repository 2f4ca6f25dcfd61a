#pragma once
// The CUDA kernel of rope (rope.cu), called by rope.cpp for tensors on cuda; only a build
// with CUDA defines it. Same contract as the CPU loop: in and out contiguous [B, T, H, d] on
// cuda, one float dtype; the pair math is rope_math.h's.
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::detail {

// out = in rotated by +φ (direction = +1) or −φ (−1); inv_freq: ω_i, i < d/2 (host values).
void rope_rotate_cuda(const Tensor& in, const Tensor& out, const std::vector<float>& inv_freq,
                      int64_t position_offset, int direction);

}  // namespace hqlt::detail
