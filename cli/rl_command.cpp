// hqlt rl show: plays one episode of an RL environment (train/rl/) and shows it, so that
// what an agent must remember can be seen: every step's action, reward and observation as
// text, and for the grid worlds a PNG strip of the 5x5 views, one tile per frame. The
// actions come from the environment's expert (it solves the task) or are random.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/rng.h"
#include "train/plot.h"
#include "train/run_dir.h"
#include "engine/parallel.h"
#include "train/rl/env.h"
#include "train/rl/grid_world.h"
#include "train/rl/replay.h"
#include "train/rl/run.h"

namespace hqlt::cli {
namespace {

namespace envs = train::rl;  // (hqlt::cli::rl is the command below)
using envs::Observation;

constexpr const char* kTrainUsage =
    "usage: hqlt rl train [--preset P] [--env NAME] [--model M] [options]\n"
    "       hqlt rl train --resume DIR [--stop-at N] [--threads N] [--quiet]\n"
    "  trains a SAC-Discrete agent with a memory model (docs/math/rl.md §2) and writes a run\n"
    "  folder: rl_options.json, metrics.jsonl (one line per greedy evaluation), checkpoint/,\n"
    "  return.png, success.png. Ctrl-C or --stop-at saves a checkpoint; --resume continues\n"
    "  the run bit for bit.\n"
    "  --preset P             tmaze-short (default: passive T-Maze of corridor 3, width 16, one\n"
    "                         layer, 200 episodes; every memory system learns it) or paper\n"
    "                         (Visual Match 750, width 100, 3 layers (Transformer 2), window 64,\n"
    "                         heads 256 wide, batch 64, 0.25 updates per action, 2565 episodes)\n"
    "  --env NAME --length N  the environment (rl show --help)\n"
    "  --model M              transformer | delta_net | sync_hqlt (or any hqlt train --model)\n"
    "  --width N --layers N --heads N --window N --head-hidden N   the agent's shape\n"
    "  --lr X --seed S --warmup N --episodes N --updates-per-step X --batch N\n"
    "  --eval-interval N --eval-episodes N --checkpoint-interval N (episodes)\n"
    "  --run-dir DIR          the run folder (default runs/rl-<env>-<model>-<time>)\n"
    "  --stop-at N            stop with a checkpoint once N episodes are played\n"
    "  --threads N            CPU threads (default: all cores)\n"
    "  --quiet                no line per evaluation\n";

int train_command(const Args& args) {
  std::string preset_name = "tmaze-short", resume, run_dir;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--preset") preset_name = args[i + 1];
  train::rl::RlRunOptions o = train::rl::rl_preset(preset_name);
  train::rl::RlRunControl control;
  int threads = 0;
  bool layers_given = false;
  ArgReader r("rl train", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kTrainUsage, stdout);
      return 0;
    } else if (r.is("--preset")) r.value();
    else if (r.is("--resume")) resume = r.value();
    else if (r.is("--run-dir")) run_dir = r.value();
    else if (r.is("--stop-at")) control.stop_at = r.positive_int();
    else if (r.is("--quiet")) control.quiet = true;
    else if (r.is("--threads")) threads = int(r.positive_int());
    else if (r.is("--env")) o.env.name = r.value();
    else if (r.is("--length")) o.env.length = r.positive_int();
    else if (r.is("--model")) o.agent.model = r.value();
    else if (r.is("--width")) o.agent.width = r.positive_int();
    else if (r.is("--layers")) o.agent.layers = r.positive_int(), layers_given = true;
    else if (r.is("--heads")) o.agent.heads = r.positive_int();
    else if (r.is("--window")) o.agent.window = r.positive_int();
    else if (r.is("--head-hidden")) o.agent.head_hidden = r.positive_int();
    else if (r.is("--lr")) o.agent.lr = r.positive_double();
    else if (r.is("--seed")) train::rl::set_seed(o, uint64_t(r.non_negative_int()));
    else if (r.is("--warmup")) o.loop.warmup_episodes = r.positive_int();
    else if (r.is("--episodes")) o.loop.train_episodes = r.non_negative_int();
    else if (r.is("--updates-per-step")) o.loop.updates_per_step = r.non_negative_double();
    else if (r.is("--batch")) o.loop.batch = r.positive_int();
    else if (r.is("--eval-interval")) o.loop.eval_interval = r.positive_int();
    else if (r.is("--eval-episodes")) o.loop.eval_episodes = r.positive_int();
    else if (r.is("--checkpoint-interval")) o.checkpoint_interval = r.positive_int();
    else r.unknown();
  }
  set_num_threads(threads);
  if (!resume.empty()) {
    for (const std::string& a : args)
      HQLT_CHECK(a.rfind("--", 0) != 0 || a == "--resume" || a == "--stop-at" || a == "--threads" || a == "--quiet",
                 "rl train: --resume continues a run with its saved options; only --stop-at, --threads and --quiet "
                 "may be given with it, got ", a);
    train::rl::rl_train_resume(resume, control);
    return 0;
  }
  // The paper's Transformer has 2 layers where the recurrent models have 3.
  if (preset_name == "paper" && o.agent.model == "transformer" && !layers_given) o.agent.layers = 2;
  envs::make_env(o.env);  // a bad name or length fails here, before anything is written
  if (run_dir.empty()) run_dir = train::new_run_path("rl-" + o.env.name, o.agent.model);
  train::rl::rl_train_new(o, run_dir, control);
  return 0;
}

constexpr const char* kUsage =
    "usage: hqlt rl show --env NAME [--length N] [--seed S] [--episode I] [--policy expert|random]\n"
    "                    [--png FILE] [--quiet]\n"
    "  plays one episode and prints every step (action, reward, what the agent sees)\n"
    "  --env NAME        passive_tmaze | active_tmaze | visual_match | key_to_door\n"
    "  --length N        T-Maze: corridor length (default 10); grid worlds: distractor phase\n"
    "                    length (default 60; the paper's Visual Match: 750)\n"
    "  --seed S          the environment's seed (default 1)\n"
    "  --episode I       which training episode (default 0): its random draws depend on it\n"
    "  --policy P        expert (solves the task; default) or random\n"
    "  --png FILE        grid worlds: a strip of every frame's 5x5 view, 8 pixels a cell\n"
    "  --quiet           only the summary line\n"
    "usage: hqlt rl train ...   (hqlt rl train --help)\n";

std::string describe(const envs::Env& env, const Observation& o) {
  if (!env.is_image()) {
    char text[64];
    std::snprintf(text, sizeof text, "[%g, %g]", double(o[0]), double(o[1]));
    return text;
  }
  std::string rows;
  for (int r = 0; r < 5; ++r) {
    if (r) rows += ' ';
    for (int c = 0; c < 5; ++c) rows += envs::view_glyph(o, r, c);
  }
  return rows;
}

// Frames side by side, `per_row` to a row of tiles, 8 pixels a cell, 2 pixels apart.
void write_strip(const std::vector<Observation>& frames, const std::string& path) {
  constexpr int kScale = 8, kTile = 5 * kScale, kGap = 2, kPerRow = 30;
  const int n = int(frames.size()), cols = std::min(n, kPerRow), rows = (n + kPerRow - 1) / kPerRow;
  const int width = cols * (kTile + kGap) + kGap, height = rows * (kTile + kGap) + kGap;
  std::vector<uint8_t> rgb(size_t(width) * size_t(height) * 3, 255);
  for (int f = 0; f < n; ++f) {
    const int x0 = kGap + (f % kPerRow) * (kTile + kGap), y0 = kGap + (f / kPerRow) * (kTile + kGap);
    for (int y = 0; y < kTile; ++y)
      for (int x = 0; x < kTile; ++x)
        for (int ch = 0; ch < 3; ++ch)
          rgb[(size_t(y0 + y) * size_t(width) + size_t(x0 + x)) * 3 + size_t(ch)] =
              uint8_t(frames[size_t(f)][size_t(ch * 25 + (y / kScale) * 5 + x / kScale)]);
  }
  train::write_png(path, width, height, rgb, "rl show --png");
}

int show(const Args& args) {
  envs::EnvOptions options;
  uint64_t episode = 0;
  std::string policy = "expert", png;
  bool quiet = false;
  ArgReader r("rl show", args);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (r.is("--env")) {
      options.name = r.value();
    } else if (r.is("--length")) {
      options.length = r.positive_int();
    } else if (r.is("--seed")) {
      options.seed = uint64_t(r.non_negative_int());
    } else if (r.is("--episode")) {
      episode = uint64_t(r.non_negative_int());
    } else if (r.is("--policy")) {
      policy = r.value();
    } else if (r.is("--png")) {
      png = r.value();
    } else if (r.is("--quiet")) {
      quiet = true;
    } else {
      r.unknown();
    }
  }
  HQLT_CHECK(!options.name.empty(), "rl show: --env is required (passive_tmaze, active_tmaze, visual_match, key_to_door)");
  HQLT_CHECK(policy == "expert" || policy == "random", "rl show: --policy must be expert or random, got '", policy, "'");
  const std::unique_ptr<envs::Env> env = envs::make_env(options);
  HQLT_CHECK(png.empty() || env->is_image(), "rl show: --png draws the grid worlds' views; ", env->name(),
             " observes two numbers");

  Generator gen{options.seed * 7919 + episode, 0};
  const envs::Episode e = envs::play_episode(*env, train::Split::train, episode, [&](const Observation&) {
    return policy == "expert" ? env->expert_action()
                              : int(randint(0, envs::kActions, {1}, DType::i64, gen).to_vector()[0]);
  });
  if (!quiet) {
    std::printf("%s, episode %llu: %lld actions\n  t   action  reward  observation\n  0                  %s\n",
                env->name().c_str(), (unsigned long long)episode, (long long)env->episode_length(),
                describe(*env, e.observations[0]).c_str());
    for (int64_t t = 0; t < e.length(); ++t)
      std::printf("%3lld   %d      %7.3f  %s\n", (long long)t + 1, e.actions[size_t(t)], e.rewards[size_t(t)],
                  describe(*env, e.observations[size_t(t + 1)]).c_str());
  }
  std::printf("%s, episode %llu, %s policy: return %.3f, %s\n", env->name().c_str(), (unsigned long long)episode,
              policy.c_str(), e.total_reward(), e.success ? "success" : "no success");
  if (!png.empty()) {
    write_strip(e.observations, png);
    std::printf("frames: %s (%zu views, reset first)\n", png.c_str(), e.observations.size());
  }
  return 0;
}

}  // namespace

int rl(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "show") return show(rest);
  if (args[0] == "train") return train_command(rest);
  fail("rl: unknown subcommand '", args[0], "' (known: show, train)");
}

}  // namespace hqlt::cli
