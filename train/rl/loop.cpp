#include "train/rl/loop.h"

#include <cmath>

#include "engine/error.h"
#include "train/rl/replay.h"

namespace hqlt::train::rl {
namespace {

// One training episode: random actions during the warm-up, the policy's draws after it.
Episode collect(Env& env, const Agent& agent, uint64_t index, bool random_actions, Generator& gen) {
  Episode e;
  models::DecodeState state;
  e.observations.push_back(env.reset(Split::train, index));
  for (;;) {
    const int a = random_actions ? int(randint(0, kActions, {1}, DType::i64, gen).to_vector()[0])
                                 : agent.act(e.observations.back(), state, false, gen);
    const Step s = env.step(a);
    e.observations.push_back(s.observation), e.actions.push_back(a), e.rewards.push_back(s.reward);
    e.dones.push_back(s.done);
    if (s.done) return e;
  }
}

}  // namespace

std::pair<double, double> evaluate_agent(Env& env, const Agent& agent, int64_t episodes) {
  double total = 0, successes = 0;
  Generator unused{0, 0};
  for (int64_t i = 0; i < episodes; ++i) {
    models::DecodeState state;
    Observation o = env.reset(Split::validation, uint64_t(i));
    for (;;) {
      const Step s = env.step(agent.act(o, state, true, unused));
      total += s.reward;
      o = s.observation;
      if (s.done) {
        successes += s.success ? 1 : 0;
        break;
      }
    }
  }
  return {total / double(episodes), successes / double(episodes)};
}

Evaluation train_agent(Env& env, Agent& agent, const LoopOptions& o,
                       const std::function<void(const Evaluation&)>& on_evaluation) {
  HQLT_CHECK(o.warmup_episodes >= 1 && o.train_episodes >= 0 && o.batch >= 1 && o.eval_interval >= 1 &&
                 o.eval_episodes >= 1 && o.updates_per_step >= 0,
             "rl train: episodes, batch, evaluation interval and evaluation episodes must be >= 1, the update ratio >= 0");
  Generator gen{o.seed, 0};
  ReplayBuffer replay(o.replay_capacity);
  Evaluation state;
  const auto evaluate = [&] {
    const auto [mean_return, success] = evaluate_agent(env, agent, o.eval_episodes);
    state.mean_return = mean_return, state.success_rate = success;
    if (on_evaluation) on_evaluation(state);
  };
  const auto update = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const SacLosses l = agent.update(replay.sample(o.batch, gen));
      state.updates += 1;
      state.critic_loss = l.critic_1.item() + l.critic_2.item(), state.actor_loss = l.actor.item();
      state.entropy = l.entropy;
    }
  };

  evaluate();
  int64_t warmup_steps = 0;
  for (int64_t i = 0; i < o.warmup_episodes; ++i) {
    Episode e = collect(env, agent, uint64_t(state.episodes), true, gen);
    warmup_steps += e.length();
    replay.add(std::move(e));
    state.episodes += 1;
  }
  state.env_steps = warmup_steps;
  update(int64_t(o.updates_per_step * double(warmup_steps)));
  for (int64_t i = 0; i < o.train_episodes; ++i) {
    if (state.episodes % o.eval_interval == 0) evaluate();
    Episode e = collect(env, agent, uint64_t(state.episodes), false, gen);
    const int64_t t = e.length();
    replay.add(std::move(e));
    state.episodes += 1, state.env_steps += t;
    update(int64_t(std::ceil(o.updates_per_step * double(t))));
  }
  evaluate();
  return state;
}

}  // namespace hqlt::train::rl
