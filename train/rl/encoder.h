#pragma once
// The observation encoders (docs/math/rl.md §2.1): what turns one observation into the
// memory model's input embedding e_t.
//
//   ImageEncoder   the grid worlds' 5x5 RGB views: /255, conv 3→8 (2x2) + ReLU, conv 8→16
//                  (2x2) + ReLU, flatten channel-major (144), linear 144→width (no activation)
//   VectorEncoder  the T-Maze's two numbers: one linear layer to width
//
// Both take observations [..., observation_size] (as the environments give them) and return
// [..., width]. Their parameters start as PyTorch's defaults, U(±1/√fan_in).
#include <cstdint>
#include <memory>

#include "engine/rng.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "train/rl/env.h"

namespace hqlt::train::rl {

class ObservationEncoder : public nn::Module {
 public:
  virtual Tensor forward(const Tensor& observations) const = 0;
  virtual int64_t width() const = 0;
};

class ImageEncoder final : public ObservationEncoder {
 public:
  ImageEncoder(int64_t width, Generator& gen);
  std::string type_name() const override { return "ImageEncoder"; }
  Tensor forward(const Tensor& observations) const override;
  int64_t width() const override { return linear_->out_features; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::Linear> linear_;
};

class VectorEncoder final : public ObservationEncoder {
 public:
  VectorEncoder(int64_t observation_size, int64_t width, Generator& gen);
  std::string type_name() const override { return "VectorEncoder"; }
  Tensor forward(const Tensor& observations) const override { return linear_->forward(observations); }
  int64_t width() const override { return linear_->out_features; }

 private:
  std::shared_ptr<nn::Linear> linear_;
};

// The encoder an environment's observations need.
std::shared_ptr<ObservationEncoder> make_encoder(const Env& env, int64_t width, Generator& gen);

}  // namespace hqlt::train::rl
