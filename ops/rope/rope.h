#pragma once
// Rotary position embedding (RoPE), docs/math/models.md §1.5: the non-interleaved
// "rotate-half" (GPT-NeoX) convention over the whole head dim. With m = d/2, each pair
// (i, i+m), i < m, of a head vector at absolute position p is rotated by the angle
// φ_{p,i} = p·ω_i, ω_i = base^(−2i/d):
//
//   y_i     = x_i · cos φ_{p,i} − x_{i+m} · sin φ_{p,i}
//   y_{i+m} = x_{i+m} · cos φ_{p,i} + x_i · sin φ_{p,i}
//
// The first half is paired with the second half, not even/odd neighbours. Position
// p = position_offset + t, so decoding with a cache of n earlier tokens passes
// position_offset = n and gets the rows a full-length call would give at n.. (the
// KV-cache property). As in the reference, ω_i and φ are computed in f32 whatever the
// tensor's dtype; cos φ and sin φ are then rounded to that dtype, and the rotation runs
// in it.
//
// Backward (docs/math/kernels.md §7.7): each 2×2 rotation is orthogonal, so dx is dy rotated by
// −φ (sin negated). Saved: nothing but the scalars base and position_offset; the cos/sin
// table is recomputed. On cuda (rope.cu) the same per-pair math (rope_math.h) runs with ω_i
// computed on the host, so both devices use the same f32 angles.
//
//   x  [B, T, H, d]   d = the head dim (even), any strides, f32 or f64
//   -> [B, T, H, d]   contiguous, x's dtype
#include <cstdint>

#include "engine/tensor.h"

namespace hqlt {

Tensor rope(const Tensor& x, double base = 10000.0, int64_t position_offset = 0);

}  // namespace hqlt
