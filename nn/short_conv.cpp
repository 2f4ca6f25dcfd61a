#include "nn/short_conv.h"

#include <cmath>

#include "engine/rng.h"
#include "ops/conv/causal_conv1d.h"
#include "ops/elementwise/elementwise.h"
#include "ops/shape/concat.h"

namespace hqlt::nn {

ShortConvolution::ShortConvolution(int64_t ch, int64_t k, ConvActivation act)
    : channels(ch),
      kernel_size(k),
      activation(act),
      weight(register_parameter("weight", [&] {
        HQLT_CHECK(ch >= 1 && k >= 1, "ShortConvolution: expected channels >= 1 and kernel_size >= 1, got ", ch,
                   " and ", k);
        // PyTorch's Conv1d default, U(±1/√fan_in) with fan_in = (Ch/groups)·K = K.
        double bound = 1.0 / std::sqrt(double(k));
        return rand({ch, 1, k}, DType::f32, Device::cpu, -bound, bound);
      }())) {}

void ShortConvolution::check_input(const Tensor& x) const {
  HQLT_CHECK(x.defined(), "ShortConvolution: argument 'x' is undefined");
  HQLT_CHECK(x.dim() == 3 && x.size(2) == channels, "ShortConvolution: argument 'x': expected [B, T, ", channels,
             "], got shape ", shape_str(x.shape()));
}

Tensor ShortConvolution::activate(const Tensor& y) const {
  return activation == ConvActivation::silu ? silu(y) : y;
}

Tensor ShortConvolution::forward(const Tensor& x) const {
  check_input(x);
  return activate(causal_conv1d(x, weight));
}

Tensor ShortConvolution::initial_state(int64_t batch) const {
  return zeros({batch, kernel_size - 1, channels}, weight.dtype(), weight.device());
}

Tensor ShortConvolution::forward(const Tensor& x, Tensor& state) const {
  check_input(x);
  const int64_t keep = kernel_size - 1;
  HQLT_CHECK(state.defined() && state.shape() == Shape({x.size(0), keep, channels}),
             "ShortConvolution: argument 'state': expected [", x.size(0), ", ", keep, ", ", channels,
             "] (the previous K-1 inputs), got ", state.defined() ? shape_str(state.shape()) : "undefined");
  if (keep == 0) return forward(x);  // one tap: nothing to carry
  const int64_t t = x.size(1);
  Tensor window = concat({state, x}, 1);  // [B, K-1+T, Ch]
  Tensor y = causal_conv1d(window, weight).slice(1, keep, keep + t);
  state = window.slice(1, t, t + keep);
  return activate(y);
}

}  // namespace hqlt::nn
