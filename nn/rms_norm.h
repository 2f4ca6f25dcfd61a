#pragma once
// RMSNorm and its gated variant (docs/math/models.md §1.1–1.2), over the last dim of size N:
//
//   RMSNorm:       y = weight ⊙ x / sqrt(mean_i x_i² + ε)
//   GatedRMSNorm:  y = (weight ⊙ x / sqrt(mean_i x_i² + ε)) ⊙ silu(g),  silu(g) = g·σ(g)
//
//   x, g    [..., N]   f32 or f64 (g: same shape as x)
//   weight  [N]        parameter "weight", initialised to 1
//   -> y    [..., N]
//
// ε is the config's norm_eps (1e-6 in every paper config; the layer-level default of 1e-5
// in the reference is always overridden by the model). The output gate is SiLU, not a
// sigmoid. The norm is the fused ops/norm op (saved: x and the per-row 1/rms); the gate is
// the fused swiglu op silu(g) ⊙ y (saved: g and the normalised y).
//
// The two classes share one parameter name, "weight": in the checkpoints the gated norm of
// a mixer with use_gate is still "o_norm.weight" (§7.1).
#include <cstdint>

#include "nn/module.h"

namespace hqlt::nn {

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t size, double eps = 1e-6);
  std::string type_name() const override { return "RMSNorm"; }

  Tensor forward(const Tensor& x) const;

  const int64_t size;
  const double eps;
  Tensor& weight;  // [N]
};

class GatedRMSNorm : public Module {
 public:
  explicit GatedRMSNorm(int64_t size, double eps = 1e-6);
  std::string type_name() const override { return "GatedRMSNorm"; }

  Tensor forward(const Tensor& x, const Tensor& g) const;

  const int64_t size;
  const double eps;
  Tensor& weight;  // [N]
};

}  // namespace hqlt::nn
