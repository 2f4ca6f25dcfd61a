#pragma once
// GatedMLP (SwiGLU), the feed-forward half of every decoder block (docs/math/models.md §1.6):
//
//   mlp(x) = ( silu(x gate_projᵀ) ⊙ (x up_projᵀ) ) down_projᵀ
//
//   x          [..., D]   f32 or f64
//   gate_proj  [I, D]     sub-module "gate_proj" (Linear, no bias)
//   up_proj    [I, D]     sub-module "up_proj"
//   down_proj  [D, I]     sub-module "down_proj"
//   -> y       [..., D]
//
// so the parameters are "gate_proj.weight", "up_proj.weight", "down_proj.weight" as in the
// checkpoints. silu(a) ⊙ b is the fused swiglu op (saved: both [..., I] projections); the
// three products are Linear's.
//
// Intermediate size I (intermediate_size_for): the config's intermediate_size if given,
// else I0 = floor(D · hidden_ratio · 2/3) rounded UP to a multiple of 256
// (D = 1024 → 2816, D = 2048 → 5632, D = 128 → 512, D = 100 → 512).
#include <cstdint>
#include <memory>
#include <optional>

#include "nn/linear.h"

namespace hqlt::nn {

// The §1.6 rule. hidden_ratio defaults to 4 when null.
int64_t intermediate_size_for(int64_t hidden_size, std::optional<double> hidden_ratio = std::nullopt,
                              std::optional<int64_t> intermediate_size = std::nullopt);

class GatedMLP : public Module {
 public:
  GatedMLP(int64_t hidden_size, int64_t intermediate_size);
  std::string type_name() const override { return "GatedMLP"; }

  Tensor forward(const Tensor& x) const;

  const int64_t hidden_size, intermediate_size;
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};

}  // namespace hqlt::nn
