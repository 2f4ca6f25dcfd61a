#include "train/rl/loop.h"

#include <cmath>

#include "engine/error.h"
#include "io/json.h"
#include "io/safetensors.h"

namespace hqlt::train::rl {
namespace {

// One training episode: random actions during the warm-up, the policy's draws after it.
Episode collect(Env& env, const Agent& agent, uint64_t index, bool random_actions, Generator& gen) {
  models::DecodeState state;
  return play_episode(env, Split::train, index, [&](const Observation& o) {
    return random_actions ? int(randint(0, kActions, {1}, DType::i64, gen).to_vector()[0])
                          : agent.act(o, state, false, gen);
  });
}

// The replay's episodes as five flat tensors, and back.
std::vector<io::NamedTensor> replay_tensors(const ReplayBuffer& replay) {
  std::vector<double> obs, actions, rewards, dones, lengths;
  int64_t width = 0;
  for (int64_t i = 0; i < replay.episodes(); ++i) {
    const Episode& e = replay.episode(i);
    width = int64_t(e.observations[0].size());
    for (const Observation& o : e.observations) obs.insert(obs.end(), o.begin(), o.end());
    for (int64_t t = 0; t < e.length(); ++t) {
      actions.push_back(e.actions[size_t(t)]), rewards.push_back(e.rewards[size_t(t)]);
      dones.push_back(e.dones[size_t(t)] ? 1 : 0);
    }
    lengths.push_back(double(e.length()));
  }
  const int64_t steps = int64_t(actions.size()), n = int64_t(lengths.size());
  return {{"observations", from_vector(obs, {width ? int64_t(obs.size()) / width : 0, width}, DType::f32)},
          {"actions", from_vector(actions, {steps}, DType::i64)},
          {"rewards", from_vector(rewards, {steps}, DType::f64)},
          {"dones", from_vector(dones, {steps}, DType::i64)},
          {"lengths", from_vector(lengths, {n}, DType::i64)}};
}

void restore_replay(ReplayBuffer& replay, const nn::StateDict& t) {
  const std::vector<double> obs = t.at("observations").to_vector(), actions = t.at("actions").to_vector(),
                            rewards = t.at("rewards").to_vector(), dones = t.at("dones").to_vector(),
                            lengths = t.at("lengths").to_vector();
  const int64_t width = t.at("observations").size(1);
  size_t o = 0, s = 0;
  for (double length : lengths) {
    Episode e;
    for (int64_t k = 0; k <= int64_t(length); ++k, o += size_t(width))
      e.observations.emplace_back(obs.begin() + long(o), obs.begin() + long(o + size_t(width)));
    for (int64_t k = 0; k < int64_t(length); ++k, ++s) {
      e.actions.push_back(int(actions[s])), e.rewards.push_back(rewards[s]), e.dones.push_back(dones[s] != 0);
    }
    replay.add(std::move(e));
  }
}

}  // namespace

std::pair<double, double> evaluate_agent(Env& env, const Agent& agent, int64_t episodes) {
  double total = 0, successes = 0;
  Generator unused{0, 0};  // greedy actions draw nothing
  for (int64_t i = 0; i < episodes; ++i) {
    models::DecodeState state;
    const Episode e = play_episode(env, Split::validation, uint64_t(i),
                                   [&](const Observation& o) { return agent.act(o, state, true, unused); });
    for (double r : e.rewards) total += r;  // one running sum over every episode's rewards
    successes += e.success ? 1 : 0;
  }
  return {total / double(episodes), successes / double(episodes)};
}

AgentTrainer::AgentTrainer(Env& env, Agent& agent, const LoopOptions& o)
    : env_(env), agent_(agent), options_(o), gen_{o.seed, 0}, replay_(o.replay_capacity) {
  HQLT_CHECK(o.warmup_episodes >= 1 && o.train_episodes >= 0 && o.batch >= 1 && o.eval_interval >= 1 &&
                 o.eval_episodes >= 1 && o.updates_per_step >= 0,
             "rl train: episodes, batch, evaluation interval and evaluation episodes must be >= 1, the update ratio >= 0");
}

void AgentTrainer::evaluate(const std::function<void(const Evaluation&)>& on_evaluation) {
  const auto [mean_return, success] = evaluate_agent(env_, agent_, options_.eval_episodes);
  progress_.mean_return = mean_return, progress_.success_rate = success;
  if (on_evaluation) on_evaluation(progress_);
}

void AgentTrainer::update(int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const SacLosses l = agent_.update(replay_.sample(options_.batch, gen_));
    progress_.updates += 1;
    progress_.critic_loss = l.critic_1.item() + l.critic_2.item(), progress_.actor_loss = l.actor.item();
    progress_.entropy = l.entropy;
  }
}

bool AgentTrainer::run(const std::function<void(const Evaluation&)>& on_evaluation, int64_t stop_after,
                       const std::function<bool()>& keep_going) {
  if (!warmed_up_) {  // one piece: the first evaluation, the warm-up and its updates
    evaluate(on_evaluation);
    for (int64_t i = 0; i < options_.warmup_episodes; ++i) {
      Episode e = collect(env_, agent_, uint64_t(progress_.episodes), true, gen_);
      progress_.env_steps += e.length();
      replay_.add(std::move(e));
      progress_.episodes += 1;
    }
    update(int64_t(options_.updates_per_step * double(progress_.env_steps)));
    warmed_up_ = true;
  }
  while (!finished_) {
    if (progress_.episodes == total_episodes()) {
      evaluate(on_evaluation);
      finished_ = true;
      break;
    }
    if ((stop_after >= 0 && progress_.episodes >= stop_after) || (keep_going && !keep_going())) break;
    if (progress_.episodes % options_.eval_interval == 0) evaluate(on_evaluation);
    Episode e = collect(env_, agent_, uint64_t(progress_.episodes), false, gen_);
    const int64_t t = e.length();
    replay_.add(std::move(e));
    progress_.episodes += 1, progress_.env_steps += t;
    update(int64_t(std::ceil(options_.updates_per_step * double(t))));
  }
  return finished_;
}

void AgentTrainer::save(const std::string& dir) {
  io::save_safetensors(dir + "/agent.safetensors", agent_.state_dict());
  io::save_safetensors(dir + "/optimizer.safetensors", agent_.optimizer().state_dict());
  io::save_safetensors(dir + "/replay.safetensors", replay_tensors(replay_));
  io::Json s = io::Json::object();
  s.set("episodes", progress_.episodes);
  s.set("env_steps", progress_.env_steps);
  s.set("updates", progress_.updates);
  s.set("critic_loss", progress_.critic_loss);  // the last update's, for the next evaluation's record
  s.set("actor_loss", progress_.actor_loss);
  s.set("entropy", progress_.entropy);
  s.set("warmed_up", warmed_up_);
  s.set("finished", finished_);
  s.set("generator_offset", int64_t(gen_.offset));
  io::write_json_file(dir + "/state.json", s);
}

void AgentTrainer::load(const std::string& dir) {
  agent_.load_state_dict(io::load_safetensors(dir + "/agent.safetensors").state_dict());
  agent_.optimizer().load_state_dict(io::load_safetensors(dir + "/optimizer.safetensors").state_dict());
  replay_ = ReplayBuffer(options_.replay_capacity);
  restore_replay(replay_, io::load_safetensors(dir + "/replay.safetensors").state_dict());
  const io::Json s = io::read_json_file(dir + "/state.json");
  progress_.episodes = s.at("episodes").as_int(), progress_.env_steps = s.at("env_steps").as_int();
  progress_.updates = s.at("updates").as_int();
  progress_.critic_loss = s.at("critic_loss").as_double(), progress_.actor_loss = s.at("actor_loss").as_double();
  progress_.entropy = s.at("entropy").as_double();
  warmed_up_ = s.at("warmed_up").as_bool(), finished_ = s.at("finished").as_bool();
  gen_.offset = uint64_t(s.at("generator_offset").as_int());
}

Evaluation train_agent(Env& env, Agent& agent, const LoopOptions& options,
                       const std::function<void(const Evaluation&)>& on_evaluation) {
  AgentTrainer trainer(env, agent, options);
  trainer.run(on_evaluation);
  return trainer.progress();
}

}  // namespace hqlt::train::rl
