#pragma once
// The agent's heads (docs/math/rl.md §2.1): the actor and the two critics are each an MLP
// in → hidden → hidden → 4 with ReLU between; the target critics are slowly moving copies.
//
// Initialisation as the reference (the rlkit convention): each hidden layer's weight
// U(±1/√n) with n its *output* width (the reference's helper reads dimension 0 of the
// weight), its bias 0.1; the last layer's weight and bias U(±last_bound), 3·10⁻³ for the
// critics and 10⁻³ for the actor.
#include <cstdint>
#include <memory>

#include "engine/rng.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace hqlt::train::rl {

class Mlp : public nn::Module {
 public:
  Mlp(int64_t in, int64_t hidden, int64_t out, double last_bound, Generator& gen);
  std::string type_name() const override { return "Mlp"; }
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]

 private:
  std::shared_ptr<nn::Linear> first_, second_, last_;
};

// target ← (1 − tau)·target + tau·source, parameter by parameter, without gradient; the two
// modules must have the same parameter names and shapes.
void soft_update(nn::Module& target, const nn::Module& source, double tau);

}  // namespace hqlt::train::rl
