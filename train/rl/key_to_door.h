#pragma once
// Key-to-Door (docs/math/rl.md §1.4). Three chapters:
//   explore (15 actions)   a room with one key (one of ten cells) and the player (one of
//                          ten start cells); stepping on the key takes it, silently but
//                          for a white pixel in that one frame
//   distractor (D actions) apples (grid_world.h); 60 by default
//   reward (10 actions)    a door two steps north of the player: with the key it opens and
//                          pays 5, without it is a wall
// Success: the door opened. Whether the key was taken must be remembered across D steps.
#include "train/rl/grid_world.h"

namespace hqlt::train::rl {

class KeyToDoor final : public GridEnv {
 public:
  KeyToDoor(int64_t distractor_length, uint64_t seed);
  bool has_key() const { return has_key_; }

 protected:
  std::unique_ptr<Chapter> explore_chapter(ExampleRng& rng) override;
  std::unique_ptr<Chapter> reward_chapter() override;

 private:
  bool has_key_ = false;  // carried from the explore chapter to the reward chapter
};

}  // namespace hqlt::train::rl
