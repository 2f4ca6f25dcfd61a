#pragma once
// The replay buffer of whole episodes (docs/math/rl.md §2.4): the agent learns from entire
// episodes, so they are stored whole and a batch is B of them drawn uniformly with
// replacement, laid out time-major as sac.h and the memory model take them. Once the stored
// transitions pass the capacity, the oldest episodes go first.
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"
#include "train/rl/env.h"

namespace hqlt::train::rl {

// One finished episode of T actions: T + 1 observations (the last one after the last
// action), and for each action what followed it.
struct Episode {
  std::vector<Observation> observations;  // o_0 .. o_T
  std::vector<int> actions;               // a_0 .. a_{T−1}
  std::vector<double> rewards;            // r_1 .. r_T
  std::vector<bool> dones;                // d_1 .. d_T (true at the end)
  bool success = false;                   // what the last step said
  int64_t length() const { return int64_t(actions.size()); }
  double total_reward() const;
};

// Plays episode `index` of `split` from its reset to its end, each action `policy`'s answer
// to the newest observation.
Episode play_episode(Env& env, Split split, uint64_t index, const std::function<int(const Observation&)>& policy);

// B episodes, time-major, padded to the longest with mask 0 (zeros in the padding).
struct EpisodeBatch {
  Tensor observations;  // [T+1, B, observation_size] f32
  Tensor actions;       // [T, B] i64
  Tensor rewards;       // [T, B] f32
  Tensor dones;         // [T, B] f32, 1 at an episode's last action
  Tensor mask;          // [T, B] f32, 1 on real steps
};

class ReplayBuffer {
 public:
  // capacity: transitions (actions) kept at most; an episode longer than that is refused.
  explicit ReplayBuffer(int64_t capacity_transitions);

  void add(Episode episode);
  int64_t episodes() const { return int64_t(episodes_.size()); }
  int64_t transitions() const { return transitions_; }
  const Episode& episode(int64_t i) const { return episodes_.at(size_t(i)); }

  // `batch` episodes drawn uniformly with replacement from those stored (from `gen`).
  EpisodeBatch sample(int64_t batch, Generator& gen) const;
  // The batch of the given stored episodes, in this order.
  EpisodeBatch gather(const std::vector<int64_t>& which) const;

 private:
  int64_t capacity_;
  int64_t transitions_ = 0;
  std::deque<Episode> episodes_;
};

}  // namespace hqlt::train::rl
