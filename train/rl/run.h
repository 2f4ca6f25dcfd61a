#pragma once
// An RL training run's folder (`hqlt rl train`), like `hqlt train`'s:
//
//   rl_options.json   the options that decide the run
//   metrics.jsonl     one record per evaluation: episodes, env_steps, updates, return,
//                     success, the last update's critic and actor losses and entropy, seconds
//   checkpoint/       agent.safetensors, optimizer.safetensors, replay.safetensors and
//                     state.json (loop.h), written whole into checkpoint.new/ and swapped in
//   return.png, success.png   at the end: mean return and success rate against episodes
//
// A run saves a checkpoint before it starts, every `checkpoint_interval` episodes, at the
// end, at --stop-at and on Ctrl-C; `--resume DIR` continues from it and computes the bits
// of the unbroken run (the log's records past the checkpoint are dropped first, since the
// continued run writes them again).
#include <cstdint>
#include <string>

#include "io/json.h"
#include "train/rl/agent.h"
#include "train/rl/env.h"
#include "train/rl/loop.h"

namespace hqlt::train::rl {

struct RlRunOptions {
  EnvOptions env{"passive_tmaze", 0, 1};
  AgentConfig agent;
  LoopOptions loop;
  int64_t checkpoint_interval = 10;  // episodes
};

struct RlRunControl {
  int64_t stop_at = -1;  // stop (with a checkpoint) once this many episodes are played
  bool quiet = false;    // no line per evaluation
};

// The named recipes of `hqlt rl train --preset`: "tmaze-short" (passive T-Maze of corridor 3,
// width 16, one layer, 200 episodes; every memory system learns it) and "paper" (Visual
// Match 750 and the paper's agent); an unknown name throws naming the known ones.
RlRunOptions rl_preset(const std::string& name);
// One seed for the environment, the agent's initialisation and the loop.
void set_seed(RlRunOptions& options, uint64_t seed);

// Starts a run in `dir` (which must not hold one) / continues the run in `dir`. Return true
// when the run has ended (false: stopped by --stop-at or Ctrl-C, resumable).
bool rl_train_new(const RlRunOptions& options, const std::string& dir, const RlRunControl& control);
bool rl_train_resume(const std::string& dir, const RlRunControl& control);
// Whether the run in `dir` has ended (from its checkpoint, after repairing a broken swap).
bool rl_run_finished(const std::string& dir);

// rl_options.json, both ways.
io::Json rl_options_to_json(const RlRunOptions& options);
RlRunOptions rl_options_from_json(const io::Json& json);

}  // namespace hqlt::train::rl
