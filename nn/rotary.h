#pragma once
// RotaryEmbedding: RoPE as a module (docs/math/models.md §1.5), a thin wrapper over
// ops/rope/rope.h that remembers the head dim and the base. Non-interleaved rotate-half
// convention over the whole head dim; with m = dim/2 and ω_i = base^(−2i/dim), position p:
//
//   y_i     = x_i · cos(p ω_i) − x_{i+m} · sin(p ω_i)
//   y_{i+m} = x_{i+m} · cos(p ω_i) + x_i · sin(p ω_i)          (i < m)
//
//   x       [B, T, H, dim]   f32 or f64; p = position_offset + t
//   -> y    [B, T, H, dim]
//
// The same call rotates queries and keys (never values). No parameters and no buffers: the
// cos/sin table is recomputed by the op (the reference's inv_freq buffer is not stored in
// checkpoints, §7). base = rope_theta (10000; hard-coded 10000 in HQLT). Saved for
// backward: nothing but the scalars.
#include <cstdint>

#include "nn/module.h"

namespace hqlt::nn {

class RotaryEmbedding : public Module {
 public:
  explicit RotaryEmbedding(int64_t dim, double base = 10000.0);
  std::string type_name() const override { return "RotaryEmbedding"; }

  // position_offset = the number of tokens before x (cached decoding), 0 in training.
  Tensor forward(const Tensor& x, int64_t position_offset = 0) const;

  const int64_t dim;
  const double base;
};

}  // namespace hqlt::nn
