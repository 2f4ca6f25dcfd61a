#include "nn/linear.h"

#include <cmath>

#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"

namespace hqlt::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias)
    : in_features(in),
      out_features(out),
      weight(register_parameter("weight", [&] {
        HQLT_CHECK(in >= 1 && out >= 1, "Linear: expected in_features >= 1 and out_features >= 1, got ", in,
                   " and ", out);
        double bound = 1.0 / std::sqrt(double(in));
        return rand({out, in}, DType::f32, Device::cpu, -bound, bound);
      }())),
      bias(nullptr) {
  if (with_bias) {
    double bound = 1.0 / std::sqrt(double(in));
    bias = &register_parameter("bias", rand({out}, DType::f32, Device::cpu, -bound, bound));
  }
}

Tensor Linear::forward(const Tensor& x) const {
  HQLT_CHECK(x.defined(), "Linear: argument 'x' is undefined");
  HQLT_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: argument 'x': expected last dim ", in_features,
             " (in_features), got shape ", shape_str(x.shape()));
  HQLT_CHECK(x.dtype() == weight.dtype(), "Linear: argument 'x': expected dtype ", dtype_name(weight.dtype()),
             " (the weight's), got ", dtype_name(x.dtype()));
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor y = matmul(x.reshape({-1, in_features}), weight, false, true).reshape(out_shape);
  if (bias) y = add(y, *bias);
  return y;
}

}  // namespace hqlt::nn
