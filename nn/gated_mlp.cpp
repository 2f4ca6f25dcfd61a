#include "nn/gated_mlp.h"

#include <cmath>

#include "ops/elementwise/elementwise.h"

namespace hqlt::nn {

int64_t intermediate_size_for(int64_t hidden_size, std::optional<double> hidden_ratio,
                              std::optional<int64_t> intermediate_size) {
  if (intermediate_size) {
    HQLT_CHECK(*intermediate_size >= 1, "GatedMLP: intermediate_size must be >= 1, got ", *intermediate_size);
    return *intermediate_size;
  }
  HQLT_CHECK(hidden_size >= 1, "GatedMLP: hidden_size must be >= 1, got ", hidden_size);
  double ratio = hidden_ratio.value_or(4.0);
  HQLT_CHECK(ratio > 0, "GatedMLP: hidden_ratio must be > 0, got ", ratio);
  // As the reference: int(hidden_size * hidden_ratio * 2 / 3), then round up to 256.
  int64_t i0 = int64_t(std::floor(double(hidden_size) * ratio * 2.0 / 3.0));
  return 256 * ((i0 + 255) / 256);
}

GatedMLP::GatedMLP(int64_t d, int64_t i)
    : hidden_size(d),
      intermediate_size(i),
      gate_proj(register_module("gate_proj", std::make_shared<Linear>(d, i))),
      up_proj(register_module("up_proj", std::make_shared<Linear>(d, i))),
      down_proj(register_module("down_proj", std::make_shared<Linear>(i, d))) {}

Tensor GatedMLP::forward(const Tensor& x) const {
  HQLT_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == hidden_size, "GatedMLP: argument 'x': expected last dim ",
             hidden_size, " (hidden_size), got ", x.defined() ? shape_str(x.shape()) : "undefined");
  return down_proj->forward(swiglu(gate_proj->forward(x), up_proj->forward(x)));
}

}  // namespace hqlt::nn
