#pragma once
// Conv2d: a 2-D convolution layer, stride 1, no padding, with a bias (ops/conv/conv2d.h):
// PyTorch's Conv2d(in, out, (kh, kw)) with its defaults, parameters "weight" [out, in, kh, kw]
// and "bias" [out], both drawn from U(±1/√(in·kh·kw)) as PyTorch does.
//
//   x [N, in, H, W]  ->  y [N, out, H − kh + 1, W − kw + 1]
#include <cstdint>

#include "engine/rng.h"
#include "nn/module.h"

namespace hqlt::nn {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
         Generator& gen = default_generator());
  std::string type_name() const override { return "Conv2d"; }

  Tensor forward(const Tensor& x) const;

  Tensor& weight;  // [out, in, kh, kw]
  Tensor& bias;    // [out]
};

}  // namespace hqlt::nn
