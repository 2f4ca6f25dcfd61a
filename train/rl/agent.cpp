#include "train/rl/agent.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/softmax/softmax.h"
#include "train/model_names.h"
#include "train/sampling.h"

namespace hqlt::train::rl {
namespace {

constexpr double kCriticBound = 3e-3, kActorBound = 1e-3;  // the heads' last layers (heads.h)

models::ModelConfig memory_config(const AgentConfig& c) {
  ModelShape shape;
  shape.hidden_size = c.width, shape.num_layers = c.layers, shape.num_heads = c.heads;
  shape.chunk_size = c.window;
  shape.initializer_range = 0.02;
  // The token embedding and LM head exist but are never used: the agent feeds embeddings.
  return named_model_config(c.model, 1, shape);
}

}  // namespace

Agent::Agent(const Env& env, const AgentConfig& config) : config_(config) {
  HQLT_CHECK(config.width >= 1 && config.head_hidden >= 1, "rl agent: width and head width must be >= 1");
  Generator gen{config.seed, 0};
  encoder = register_module("encoder", make_encoder(env, config.width, gen));
  backbone = register_module("memory", std::make_shared<models::CausalLM>(memory_config(config), gen));
  actor = register_module("actor", std::make_shared<Mlp>(config.width, config.head_hidden, kActions, kActorBound, gen));
  q1 = register_module("q1", std::make_shared<Mlp>(config.width, config.head_hidden, kActions, kCriticBound, gen));
  q2 = register_module("q2", std::make_shared<Mlp>(config.width, config.head_hidden, kActions, kCriticBound, gen));
  q1_target = register_module("q1_target", std::make_shared<Mlp>(config.width, config.head_hidden, kActions, kCriticBound, gen));
  q2_target = register_module("q2_target", std::make_shared<Mlp>(config.width, config.head_hidden, kActions, kCriticBound, gen));
  soft_update(*q1_target, *q1, 1.0);  // the targets start as copies
  soft_update(*q2_target, *q2, 1.0);
}

Tensor Agent::as_parameters(const Tensor& observations) const {
  const DType dt = actor->parameters().front().dtype();
  return observations.dtype() == dt ? observations : observations.to(dt);
}

Tensor Agent::memory(const Tensor& observations) const {
  HQLT_CHECK(observations.defined() && observations.dim() == 3, "rl agent: observations must be [T+1, B, obs], got ",
             observations.defined() ? shape_str(observations.shape()) : "none");
  const Tensor embeds = encoder->forward(as_parameters(observations));  // [T+1, B, D]
  return backbone->hidden_states(embeds.transpose(0, 1).contiguous()).transpose(0, 1);
}

nn::AdamW& Agent::optimizer() {
  if (!optimizer_) {
    // Everything but the targets, without weight decay (the reference's Adam).
    std::vector<nn::NamedTensor> trained;
    for (const auto& [name, p] : named_parameters())
      if (name.rfind("q1_target.", 0) != 0 && name.rfind("q2_target.", 0) != 0) trained.push_back({name, p});
    nn::AdamWOptions options;
    options.lr = config_.lr;
    options.weight_decay = 0;
    optimizer_ = std::make_unique<nn::AdamW>(std::vector<nn::ParamGroup>{{trained, 0.0}}, options);
  }
  return *optimizer_;
}

SacLosses Agent::update(const EpisodeBatch& batch) {
  nn::AdamW& adam = optimizer();
  const DType dt = actor->parameters().front().dtype();
  const Tensor h = memory(batch.observations);
  Tensor q1_next, q2_next;
  {
    NoGrad no_grad;
    q1_next = q1_target->forward(h), q2_next = q2_target->forward(h);
  }
  SacLosses losses = sac_discrete_losses(actor->forward(h), q1->forward(h), q2->forward(h), q1_next, q2_next,
                                         batch.actions, batch.rewards.to(dt), batch.dones.to(dt), batch.mask.to(dt),
                                         config_.sac);
  adam.zero_grad();
  losses.total.backward();
  adam.step();
  soft_update(*q1_target, *q1, config_.tau);
  soft_update(*q2_target, *q2, config_.tau);
  return losses;
}

std::vector<double> Agent::policy_step(const Observation& observation, models::DecodeState& state) const {
  NoGrad no_grad;
  const Tensor o = from_vector(std::vector<double>(observation.begin(), observation.end()),
                               {1, int64_t(observation.size())}, DType::f32);
  const Tensor h = backbone->step_hidden(encoder->forward(as_parameters(o)), state);  // [1, D]
  return softmax(actor->forward(h), -1).to_vector();
}

int Agent::act(const Observation& observation, models::DecodeState& state, bool greedy, Generator& gen) const {
  const std::vector<double> p = policy_step(observation, state);
  if (greedy) return int(std::max_element(p.begin(), p.end()) - p.begin());
  return int(draw_categorical(p, rand({1}, DType::f64, Device::cpu, 0.0, 1.0, gen).item()));
}

}  // namespace hqlt::train::rl
