#pragma once
// The SAC-Discrete agent (docs/math/rl.md §2): an observation encoder, one memory model
// shared by the actor and the critics, the actor, two critics and their targets.
//
//   memory(observations [T+1, B, obs])  ->  h [T+1, B, width], one causal pass per episode
//   update(batch)                        one optimiser step on the losses of sac.h, then the
//                                        targets' soft update
//   policy_step(o, state)                the action probabilities after one more
//                                        observation, through the memory model's decoding
//                                        caches (O(1) per step for the recurrent models)
//
// Not (yet) the reference's: no dropout anywhere (the engine has no dropout op), and every
// memory model acts with its memory (the reference's DeltaNet and HQLT collect episodes
// without it, §2.4).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/causal_lm.h"
#include "models/decode_state.h"
#include "nn/adamw.h"
#include "nn/module.h"
#include "train/rl/encoder.h"
#include "train/rl/env.h"
#include "train/rl/heads.h"
#include "train/rl/replay.h"
#include "train/rl/sac.h"

namespace hqlt::train::rl {

struct AgentConfig {
  std::string model = "sync_hqlt";  // a name of train/model_names.h
  int64_t width = 64;               // the memory model's width (= the encoder's output)
  int64_t layers = 2, heads = 2;
  int64_t window = 8;               // HQLT's KV window (chunk size)
  int64_t head_hidden = 128;        // the actor's and critics' hidden width
  double lr = 3e-4;
  double tau = 0.005;
  SacConfig sac;
  uint64_t seed = 1;
};

class Agent : public nn::Module {
 public:
  Agent(const Env& env, const AgentConfig& config);
  std::string type_name() const override { return "Agent"; }
  const AgentConfig& config() const { return config_; }

  Tensor memory(const Tensor& observations) const;
  SacLosses update(const EpisodeBatch& batch);
  // The optimiser of everything but the targets (made on first use: after any to()).
  nn::AdamW& optimizer();
  // π(· | o_0 .. o_t) for the newest observation o_t; `state` starts empty per episode.
  std::vector<double> policy_step(const Observation& observation, models::DecodeState& state) const;
  // An action from policy_step: the most probable (greedy) or a draw from π.
  int act(const Observation& observation, models::DecodeState& state, bool greedy, Generator& gen) const;

  std::shared_ptr<ObservationEncoder> encoder;
  std::shared_ptr<models::CausalLM> backbone;
  std::shared_ptr<Mlp> actor, q1, q2, q1_target, q2_target;

 private:
  Tensor as_parameters(const Tensor& observations) const;  // cast to the parameters' dtype

  AgentConfig config_;
  std::unique_ptr<nn::AdamW> optimizer_;
};

}  // namespace hqlt::train::rl
