#pragma once
// Passive Visual Match (docs/math/rl.md §1.3). Three chapters:
//   explore (15 actions)   the player is walled in; one cell of the ring around it shows
//                          the episode's target colour, the other seven are walls
//   distractor (D actions) apples (grid_world.h); D = 750 in the paper, 60 by default
//   reward (15 actions)    three doors in three colours; the first door the player enters
//                          pays 100 if it has the target colour, and all three vanish
// Success: the right door. The three door symbols b, c, e get a permutation of red, green
// and blue once per environment (from the seed); the target symbol and the ring cell are
// drawn per episode.
#include "train/rl/grid_world.h"

namespace hqlt::train::rl {

class VisualMatch final : public GridEnv {
 public:
  VisualMatch(int64_t distractor_length, uint64_t seed);
  char target() const { return target_; }  // 'b', 'c' or 'e', this episode's

 protected:
  std::unique_ptr<Chapter> explore_chapter(ExampleRng& rng) override;
  std::unique_ptr<Chapter> reward_chapter() override;

 private:
  char target_ = 'b';
};

}  // namespace hqlt::train::rl
