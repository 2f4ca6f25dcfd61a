#include "train/rl/replay.h"

#include <algorithm>

#include "engine/error.h"

namespace hqlt::train::rl {

double Episode::total_reward() const {
  double total = 0;
  for (double r : rewards) total += r;
  return total;
}

Episode play_episode(Env& env, Split split, uint64_t index, const std::function<int(const Observation&)>& policy) {
  Episode e;
  e.observations.push_back(env.reset(split, index));
  for (;;) {
    const int a = policy(e.observations.back());
    const Step s = env.step(a);
    e.observations.push_back(s.observation), e.actions.push_back(a), e.rewards.push_back(s.reward);
    e.dones.push_back(s.done);
    if (s.done) {
      e.success = s.success;
      return e;
    }
  }
}

ReplayBuffer::ReplayBuffer(int64_t capacity_transitions) : capacity_(capacity_transitions) {
  HQLT_CHECK(capacity_transitions >= 1, "replay: capacity must be at least 1 transition, got ", capacity_transitions);
}

void ReplayBuffer::add(Episode e) {
  const int64_t t = e.length();
  HQLT_CHECK(t >= 1 && int64_t(e.observations.size()) == t + 1 && int64_t(e.rewards.size()) == t &&
                 int64_t(e.dones.size()) == t,
             "replay: an episode of ", t, " actions needs ", t + 1, " observations and ", t,
             " rewards and ends; got ", e.observations.size(), ", ", e.rewards.size(), " and ", e.dones.size());
  HQLT_CHECK(t <= capacity_, "replay: an episode of ", t, " actions does not fit a capacity of ", capacity_);
  for (const Observation& o : e.observations)
    HQLT_CHECK(o.size() == e.observations[0].size(), "replay: observations of one episode differ in size");
  if (!episodes_.empty())
    HQLT_CHECK(e.observations[0].size() == episodes_[0].observations[0].size(),
               "replay: observations of ", e.observations[0].size(), " values, the buffer holds ",
               episodes_[0].observations[0].size());
  transitions_ += t;
  episodes_.push_back(std::move(e));
  while (transitions_ > capacity_) {
    transitions_ -= episodes_.front().length();
    episodes_.pop_front();
  }
}

EpisodeBatch ReplayBuffer::sample(int64_t batch, Generator& gen) const {
  HQLT_CHECK(!episodes_.empty(), "replay: sample from an empty buffer");
  HQLT_CHECK(batch >= 1, "replay: batch must be at least 1, got ", batch);
  const std::vector<double> drawn = randint(0, episodes(), {batch}, DType::i64, gen).to_vector();
  return gather(std::vector<int64_t>(drawn.begin(), drawn.end()));
}

EpisodeBatch ReplayBuffer::gather(const std::vector<int64_t>& which) const {
  HQLT_CHECK(!which.empty(), "replay: a batch needs at least one episode");
  int64_t t_max = 0;
  for (int64_t i : which) {
    HQLT_CHECK(i >= 0 && i < episodes(), "replay: episode ", i, " of ", episodes());
    t_max = std::max(t_max, episodes_[size_t(i)].length());
  }
  const int64_t b = int64_t(which.size()), obs = int64_t(episodes_[0].observations[0].size());
  std::vector<double> o(size_t((t_max + 1) * b * obs), 0.0), a(size_t(t_max * b), 0.0), r(a.size(), 0.0),
      d(a.size(), 0.0), m(a.size(), 0.0);
  for (int64_t col = 0; col < b; ++col) {
    const Episode& e = episodes_[size_t(which[size_t(col)])];
    for (int64_t t = 0; t <= e.length(); ++t)
      std::copy(e.observations[size_t(t)].begin(), e.observations[size_t(t)].end(), o.begin() + (t * b + col) * obs);
    for (int64_t t = 0; t < e.length(); ++t) {
      const size_t at = size_t(t * b + col);
      a[at] = e.actions[size_t(t)], r[at] = e.rewards[size_t(t)], d[at] = e.dones[size_t(t)] ? 1 : 0, m[at] = 1;
    }
  }
  return {from_vector(o, {t_max + 1, b, obs}, DType::f32), from_vector(a, {t_max, b}, DType::i64),
          from_vector(r, {t_max, b}, DType::f32), from_vector(d, {t_max, b}, DType::f32),
          from_vector(m, {t_max, b}, DType::f32)};
}

}  // namespace hqlt::train::rl
