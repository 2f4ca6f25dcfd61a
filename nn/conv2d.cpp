#include "nn/conv2d.h"

#include <cmath>

#include "engine/error.h"
#include "ops/conv/conv2d.h"

namespace hqlt::nn {
namespace {

Tensor drawn(const Shape& shape, int64_t fan_in, Generator& gen) {
  HQLT_CHECK(fan_in >= 1, "Conv2d: expected channels and kernel sizes >= 1, got shape ", shape_str(shape));
  const double bound = 1.0 / std::sqrt(double(fan_in));
  return rand(shape, DType::f32, Device::cpu, -bound, bound, gen);
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Generator& gen)
    : weight(register_parameter("weight", drawn({out, in, kh, kw}, in * kh * kw, gen))),
      bias(register_parameter("bias", drawn({out}, in * kh * kw, gen))) {}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias); }

}  // namespace hqlt::nn
