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
//
// AgentTrainer runs it in pieces that can be saved and continued: between two pieces its
// whole state is the agent (with its optimiser), the replay, a few counters and the offset
// of its one random generator, so a run stopped after any episode and continued computes
// the bits of the unbroken run.
#include <cstdint>
#include <functional>
#include <string>

#include "engine/rng.h"
#include "train/rl/agent.h"
#include "train/rl/env.h"
#include "train/rl/replay.h"

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

class AgentTrainer {
 public:
  AgentTrainer(Env& env, Agent& agent, const LoopOptions& options);

  // Plays on until the run's end or until `stop_after` episodes have been played (−1: no
  // limit), or until `keep_going` says no between two episodes; every evaluation goes to
  // `on_evaluation`. True when the run has ended.
  bool run(const std::function<void(const Evaluation&)>& on_evaluation, int64_t stop_after = -1,
           const std::function<bool()>& keep_going = {});
  bool finished() const { return finished_; }
  const Evaluation& progress() const { return progress_; }
  int64_t total_episodes() const { return options_.warmup_episodes + options_.train_episodes; }

  // The trainer's own state (replay, counters, generator) and the agent's weights and
  // optimiser, as files in `dir` (which must exist); load() restores them into a trainer
  // made with the same environment, agent configuration and options.
  void save(const std::string& dir);
  void load(const std::string& dir);

 private:
  void evaluate(const std::function<void(const Evaluation&)>& on_evaluation);
  void update(int64_t n);

  Env& env_;
  Agent& agent_;
  LoopOptions options_;
  Generator gen_;
  ReplayBuffer replay_;
  Evaluation progress_;
  bool warmed_up_ = false, finished_ = false;
};

// The whole loop in one call; returns the last evaluation.
Evaluation train_agent(Env& env, Agent& agent, const LoopOptions& options,
                       const std::function<void(const Evaluation&)>& on_evaluation = {});

// Mean return and success of `episodes` greedy episodes of the validation split.
std::pair<double, double> evaluate_agent(Env& env, const Agent& agent, int64_t episodes);

}  // namespace hqlt::train::rl
