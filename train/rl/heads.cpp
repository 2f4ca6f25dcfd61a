#include "train/rl/heads.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "nn/init.h"
#include "ops/elementwise/elementwise.h"

namespace hqlt::train::rl {

Mlp::Mlp(int64_t in, int64_t hidden, int64_t out, double last_bound, Generator& gen) {
  first_ = register_module("0", std::make_shared<nn::Linear>(in, hidden, true));
  second_ = register_module("1", std::make_shared<nn::Linear>(hidden, hidden, true));
  last_ = register_module("2", std::make_shared<nn::Linear>(hidden, out, true));
  for (const auto& layer : {first_, second_}) {
    const double bound = 1.0 / std::sqrt(double(layer->out_features));
    nn::init::uniform_(layer->weight, -bound, bound, gen);
    nn::init::constant_(*layer->bias, 0.1);
  }
  nn::init::uniform_(last_->weight, -last_bound, last_bound, gen);
  nn::init::uniform_(*last_->bias, -last_bound, last_bound, gen);
}

Tensor Mlp::forward(const Tensor& x) const {
  return last_->forward(relu(second_->forward(relu(first_->forward(x)))));
}

void soft_update(nn::Module& target, const nn::Module& source, double tau) {
  HQLT_CHECK(tau >= 0 && tau <= 1, "soft_update: tau must be in [0, 1], got ", tau);
  NoGrad no_grad;
  nn::StateDict mixed;
  for (const auto& [name, s] : source.named_parameters()) {
    const Tensor& t = target.parameter(name);
    HQLT_CHECK(t.shape() == s.shape(), "soft_update: parameter '", name, "' is ", shape_str(t.shape()),
               " in the target and ", shape_str(s.shape()), " in the source");
    mixed[name] = t.detach() * (1.0 - tau) + s.detach() * tau;
  }
  target.load_state_dict(mixed);  // copies into the target's own tensors
}

}  // namespace hqlt::train::rl
