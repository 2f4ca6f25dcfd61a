#include "train/rl/tmaze.h"

#include "engine/error.h"

namespace hqlt::train::rl {

TMaze::TMaze(bool active, int64_t corridor_length, uint64_t seed)
    : active_(active), corridor_(corridor_length), seed_(seed), offset_(active ? 1 : 0) {
  HQLT_CHECK(corridor_length >= 1 && corridor_length <= 100000, active ? "active_tmaze" : "passive_tmaze",
             ": corridor length must be in [1, 100000], got ", corridor_length);
}

std::string TMaze::name() const {
  return std::string(active_ ? "active_tmaze-" : "passive_tmaze-") + std::to_string(corridor_);
}

Observation TMaze::reset(Split split, uint64_t episode) {
  ExampleRng rng(seed_, split, episode);
  goal_ = rng.integer(0, 1) == 0 ? -1 : 1;
  x_ = offset_, y_ = 0;
  oracle_seen_ = false;
  actions_ = 0;
  started_ = true;
  return observe();
}

// §1.1: the oracle shows g only the first time its observation is made.
Observation TMaze::observe() {
  const int64_t junction = offset_ + corridor_;
  if (x_ == junction) return {1.f, float(y_)};
  if (x_ == 0 && !oracle_seen_) {
    oracle_seen_ = true;
    return {0.f, float(goal_)};
  }
  return {0.f, 0.f};
}

Step TMaze::step(int action) {
  HQLT_CHECK(started_ && actions_ < episode_length(), name(), ": step after the episode's last action (",
             episode_length(), " actions); call reset first");
  HQLT_CHECK(action >= 0 && action < kActions, name(), ": action must be in [0, 3], got ", action);
  actions_ += 1;
  const int64_t junction = offset_ + corridor_;
  // Walkable: the corridor y = 0, x in [0, junction], and the two goal cells above and
  // below the junction. Any other move leaves the agent where it is.
  int64_t x = x_, y = y_;
  if (action == 0) x += 1;
  if (action == 1) y += 1;
  if (action == 2) x -= 1;
  if (action == 3) y -= 1;
  const bool walkable = (y == 0 && x >= 0 && x <= junction) || (x == junction && (y == 1 || y == -1));
  if (walkable) x_ = x, y_ = y;

  Step s;
  s.observation = observe();
  s.done = actions_ == episode_length();
  if (s.done) {
    s.reward = y_ == goal_ ? 1.0 : 0.0;
    s.success = y_ == goal_;
  } else if (x_ < actions_ - offset_) {
    s.reward = -1.0 / double(corridor_);
  }
  return s;
}

int TMaze::expert_action() const {
  const int64_t junction = offset_ + corridor_;
  if (active_ && !oracle_seen_) return 2;  // left, to the oracle
  if (x_ < junction) return 0;
  return goal_ == 1 ? 1 : 3;
}

}  // namespace hqlt::train::rl
