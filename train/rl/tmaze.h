#pragma once
// The T-Maze (docs/math/rl.md §1.1): a corridor of L cells ending in a junction with two
// goal cells, one up and one down. The goal's side g = ±1 is shown once, at the corridor's
// left end (x = 0), and must be remembered until the junction, L or more steps later.
//
//   passive: the agent starts on the cell that shows g; L + 1 actions per episode
//   active:  it starts one cell to the right and must step left to see g; L + 3 actions
//
// Actions 0: x+1, 1: y+1, 2: x−1, 3: y−1; a move off the maze is ignored. The observation
// is [1, y] at the junction column, [0, g] the first time x = 0 is seen, [0, 0] otherwise.
// The last action pays 1 when y = g; every earlier one costs 1/L when the agent has fallen
// behind walking right (x < t − offset), so idling costs about 1 per episode.
#include "train/rl/env.h"

namespace hqlt::train::rl {

class TMaze final : public Env {
 public:
  TMaze(bool active, int64_t corridor_length, uint64_t seed);

  Observation reset(Split split, uint64_t episode) override;
  Step step(int action) override;
  int64_t observation_size() const override { return 2; }
  int64_t episode_length() const override { return corridor_ + (active_ ? 3 : 1); }
  std::string name() const override;
  int expert_action() const override;

  // For tests and `hqlt rl show`: where the agent is and which side pays.
  int64_t x() const { return x_; }
  int64_t y() const { return y_; }
  int goal_side() const { return goal_; }

 private:
  Observation observe();

  bool active_;
  int64_t corridor_;
  uint64_t seed_;
  int64_t offset_;          // 0 passive, 1 active: the start's distance from the oracle cell
  int64_t x_ = 0, y_ = 0;
  int goal_ = 1;            // g
  bool oracle_seen_ = false;
  int64_t actions_ = 0;     // taken so far in this episode
  bool started_ = false;
};

}  // namespace hqlt::train::rl
