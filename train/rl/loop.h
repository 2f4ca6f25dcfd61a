#pragma once
// The training loop of the agent (docs/math/rl.md §2.4):
//
//   evaluate (the untrained policy)
//   warm-up: `warmup_episodes` episodes of uniformly random actions, then
//            ⌊updates_per_step · (their actions)⌋ updates
//   until `train_episodes` more episodes are played:
//     evaluate when the episodes so far are a multiple of `eval_interval`
//     play one episode with actions drawn from the policy (through the caches)
//     ⌈updates_per_step · T⌉ updates on batches of `batch` whole episodes from the replay
//   evaluate once more at the end
//
// An evaluation plays `eval_episodes` greedy episodes of the validation split (the same
// ones every time) and reports their mean return and success rate.
#include <cstdint>
#include <functional>

#include "train/rl/agent.h"
#include "train/rl/env.h"

namespace hqlt::train::rl {

struct LoopOptions {
  int64_t warmup_episodes = 10;
  int64_t train_episodes = 100;
  double updates_per_step = 0.25;
  int64_t batch = 32;
  int64_t eval_interval = 10;
  int64_t eval_episodes = 10;
  int64_t replay_capacity = 1000000;  // transitions
  uint64_t seed = 1;                  // warm-up actions, sampled actions, replay draws
};

struct Evaluation {
  int64_t episodes = 0;   // played so far (warm-up included)
  int64_t env_steps = 0;  // actions taken so far in training episodes
  int64_t updates = 0;
  double mean_return = 0;
  double success_rate = 0;
  double critic_loss = 0, actor_loss = 0, entropy = 0;  // of the last update (0 before any)
};

// Runs the loop; `on_evaluation` sees every evaluation as it happens. Returns the last one.
Evaluation train_agent(Env& env, Agent& agent, const LoopOptions& options,
                       const std::function<void(const Evaluation&)>& on_evaluation = {});

// Mean return and success of `episodes` greedy episodes of the validation split.
std::pair<double, double> evaluate_agent(Env& env, const Agent& agent, int64_t episodes);

}  // namespace hqlt::train::rl
