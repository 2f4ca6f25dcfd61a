#pragma once
// The partially observable environments of the paper's RL experiments (its Figure 2): the
// passive and active T-Maze, Passive Visual Match and Key-to-Door. The rules, in our words,
// are in docs/math/rl.md §1; each environment's file cites its section.
//
// What they share:
//   * four discrete actions, 0..3 (their meaning is the environment's);
//   * episodes of a fixed number of actions, episode_length(): the step that takes the last
//     one returns done = true, and it is a true end (nothing to bootstrap from);
//   * an observation is a vector of observation_size() floats: two numbers for the T-Maze,
//     the 75 bytes of a 5x5 RGB crop (channel-major, 0..255) for the grid worlds;
//   * every random choice of an episode comes from (seed, split, episode index), so an
//     episode can be replayed from its index alone (train/tasks/task.h ExampleRng) and the
//     training and evaluation episodes are drawn apart.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/tasks/task.h"

namespace hqlt::train::rl {

inline constexpr int kActions = 4;

using Observation = std::vector<float>;

struct Step {
  Observation observation;  // after the action
  double reward = 0;
  bool done = false;        // the episode's last action
  bool success = false;     // meaningful when done: the task was solved (§1.1-§1.4)
};

class Env {
 public:
  virtual ~Env() = default;
  // Starts episode `episode` of `split`: its random choices are fixed by them and the seed.
  virtual Observation reset(Split split, uint64_t episode) = 0;
  // Takes one action (0..3); asking after the last action of an episode is an error.
  virtual Step step(int action) = 0;
  virtual int64_t observation_size() const = 0;
  virtual int64_t episode_length() const = 0;
  // The name with its length, as `hqlt rl` prints it ("passive_tmaze-10").
  virtual std::string name() const = 0;
  // The observation is a 5x5 RGB image (75 bytes as floats) that can be drawn.
  virtual bool is_image() const { return false; }
  // An action that solves the episode from the current state, for demonstrations and tests.
  virtual int expert_action() const = 0;
};

struct EnvOptions {
  std::string name;     // passive_tmaze | active_tmaze | visual_match | key_to_door
  int64_t length = 0;   // T-Maze: corridor length; grid worlds: distractor phase (0: default)
  uint64_t seed = 1;
};

// The names make_env accepts, for help texts and error messages.
const std::vector<std::string>& env_names();

// Builds an environment; bad names or lengths throw hqlt::Error naming the option.
std::unique_ptr<Env> make_env(const EnvOptions& options);

}  // namespace hqlt::train::rl
