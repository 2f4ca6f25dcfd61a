#pragma once
// Linear: y = x Wᵀ (+ b), with W stored [out, in] as in PyTorch and in the checkpoints
// (docs/math/models.md §0). No layer of the three model families has a bias except the
// Transformer's optional qkv_bias, so the bias is off by default.
//
//   x       [..., in]     any leading dims (none too: [in] gives [out]), f32 or f64
//   weight  [out, in]     parameter "weight"
//   bias    [out]         parameter "bias", only when constructed with bias = true
//   -> y    [..., out]
//
// The leading dims are flattened so the product is one GEMM, hqlt::matmul(x, W, false,
// true): W is read transposed in place, never copied. Backward is matmul's (saved: x and W)
// plus the bias sum. Initial values are PyTorch's defaults, U(±1/√in) for both tensors;
// models redraw them with nn/init.h (§6).
#include <cstdint>

#include "nn/module.h"

namespace hqlt::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = false);
  std::string type_name() const override { return "Linear"; }

  Tensor forward(const Tensor& x) const;

  const int64_t in_features, out_features;
  Tensor& weight;  // [out, in]
  Tensor* bias;    // [out], or null without a bias
};

}  // namespace hqlt::nn
