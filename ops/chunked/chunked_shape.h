#pragma once
// The problem dimensions of a chunked op, one name for the CPU kernels' and the blocks'
// geometry (ops/chunked/chunked_blocks.h, ops/delta_rule/delta_rule_cpu.cpp).
#include <cstdint>

#include "engine/host_device.h"

namespace hqlt::detail::chunked {

// [B, T, H, d_k] queries and keys, [B, T, H, d_v] values: B·T·H token rows; element
// (b, t, h, i) of a contiguous [B, T, H, d] tensor sits at ((b·T + t)·H + h)·d + i.
struct ChunkedShape {
  int64_t B = 0, T = 0, H = 0, dk = 0, dv = 0;

  HQLT_HD int64_t rows() const { return B * T * H; }
};

}  // namespace hqlt::detail::chunked
