#include "train/rl/encoder.h"

#include <cmath>

#include "engine/error.h"
#include "nn/init.h"
#include "ops/elementwise/elementwise.h"

namespace hqlt::train::rl {
ImageEncoder::ImageEncoder(int64_t width, Generator& gen) {
  conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(3, 8, 2, 2, gen));
  conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(8, 16, 2, 2, gen));
  linear_ = register_module("linear", std::make_shared<nn::Linear>(16 * 3 * 3, width, true));
  const double bound = 1 / std::sqrt(144.0);  // PyTorch's default, from our generator
  nn::init::uniform_(linear_->weight, -bound, bound, gen);
  nn::init::uniform_(*linear_->bias, -bound, bound, gen);
}

Tensor ImageEncoder::forward(const Tensor& observations) const {
  HQLT_CHECK(observations.defined() && observations.dim() >= 1 && observations.size(-1) == 75,
             "ImageEncoder: expected observations [..., 75] (a 5x5 RGB view), got ",
             observations.defined() ? shape_str(observations.shape()) : "none");
  Shape lead = observations.shape();
  lead.pop_back();
  const Tensor images = (observations * (1.0 / 255.0)).reshape({-1, 3, 5, 5});
  const Tensor h1 = relu(conv1_->forward(images));  // [N, 8, 4, 4]
  const Tensor h2 = relu(conv2_->forward(h1));      // [N, 16, 3, 3]
  Shape out = lead;
  out.push_back(width());
  return linear_->forward(h2.reshape({-1, 16 * 3 * 3})).reshape(out);
}

VectorEncoder::VectorEncoder(int64_t observation_size, int64_t width, Generator& gen) {
  linear_ = register_module("linear", std::make_shared<nn::Linear>(observation_size, width, true));
  const double bound = 1 / std::sqrt(double(observation_size));
  nn::init::uniform_(linear_->weight, -bound, bound, gen);
  nn::init::uniform_(*linear_->bias, -bound, bound, gen);
}

std::shared_ptr<ObservationEncoder> make_encoder(const Env& env, int64_t width, Generator& gen) {
  if (env.is_image()) return std::make_shared<ImageEncoder>(width, gen);
  return std::make_shared<VectorEncoder>(env.observation_size(), width, gen);
}

}  // namespace hqlt::train::rl
