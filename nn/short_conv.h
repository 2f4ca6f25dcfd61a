#pragma once
// ShortConvolution (docs/math/models.md §1.4): a causal depthwise convolution along time with K
// taps per channel and no bias ever, optionally followed by SiLU:
//
//   y[b, t, c] = act( Σ_{i=0}^{K-1} weight[c, 0, i] · x[b, t-(K-1)+i, c] )    (x[b, <0, c] = 0)
//
//   x       [B, T, Ch]    channels last, f32 or f64
//   weight  [Ch, 1, K]    parameter "weight", the checkpoint layout of nn.Conv1d(groups=Ch)
//   -> y    [B, T, Ch]
//
// Which convs have the SiLU is the layer's business (§4.1, §5.1): DeltaNet puts SiLU after
// all three; HQLT after the v conv only. The reference class defaults to SiLU, and so does
// this one. The convolution is ops/conv/causal_conv1d (saved: x and weight), the SiLU the
// elementwise op (saved: the conv output).
//
// Streaming (cached decoding, §5.10): forward(x, state) takes the previous K-1 inputs,
// state [B, K-1, Ch] (zeros before the first token), convolves them together with x so the
// outputs equal those of one call on the whole sequence, and replaces state with the last
// K-1 inputs seen.
#include <cstdint>

#include "nn/module.h"

namespace hqlt::nn {

enum class ConvActivation { none, silu };

class ShortConvolution : public Module {
 public:
  ShortConvolution(int64_t channels, int64_t kernel_size = 4, ConvActivation activation = ConvActivation::silu);
  std::string type_name() const override { return "ShortConvolution"; }

  Tensor forward(const Tensor& x) const;
  Tensor forward(const Tensor& x, Tensor& state) const;
  // The zero state [batch, K-1, Ch] to start streaming with, in the weight's dtype.
  Tensor initial_state(int64_t batch) const;

  const int64_t channels, kernel_size;
  const ConvActivation activation;
  Tensor& weight;  // [Ch, 1, K]

 private:
  void check_input(const Tensor& x) const;
  Tensor activate(const Tensor& y) const;
};

}  // namespace hqlt::nn
