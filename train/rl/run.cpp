#include "train/rl/run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "io/json.h"
#include "train/interrupt.h"
#include "train/metrics_log.h"
#include "train/plot.h"
#include "train/run_dir.h"

namespace hqlt::train::rl {
namespace fs = std::filesystem;

RlRunOptions rl_preset(const std::string& name) {
  RlRunOptions o;
  if (name == "tmaze-short") {
    o.env = {"passive_tmaze", 3, 1};
    o.agent.model = "sync_hqlt", o.agent.width = 16, o.agent.layers = 1, o.agent.heads = 2, o.agent.window = 4;
    o.agent.head_hidden = 32, o.agent.lr = 1e-3;
    o.loop.warmup_episodes = 10, o.loop.train_episodes = 200, o.loop.updates_per_step = 1.0, o.loop.batch = 16;
    o.loop.eval_interval = 25, o.loop.eval_episodes = 20;
    o.checkpoint_interval = 25;
  } else if (name == "paper") {
    o.env = {"visual_match", 750, 1};
    o.agent.model = "sync_hqlt", o.agent.width = 100, o.agent.layers = 3, o.agent.heads = 2, o.agent.window = 64;
    o.agent.head_hidden = 256, o.agent.lr = 3e-4;
    o.loop.warmup_episodes = 10, o.loop.train_episodes = 2565, o.loop.updates_per_step = 0.25, o.loop.batch = 64;
    o.loop.eval_interval = 10, o.loop.eval_episodes = 20;
  } else {
    fail("rl train: unknown --preset '", name, "' (known: tmaze-short, paper)");
  }
  return o;
}

void set_seed(RlRunOptions& o, uint64_t seed) { o.env.seed = o.agent.seed = o.loop.seed = seed; }

io::Json rl_options_to_json(const RlRunOptions& o) {
  io::Json j = io::Json::object();
  j.set("env", o.env.name);
  j.set("length", o.env.length);
  j.set("env_seed", int64_t(o.env.seed));
  j.set("model", o.agent.model);
  j.set("width", o.agent.width);
  j.set("layers", o.agent.layers);
  j.set("heads", o.agent.heads);
  j.set("window", o.agent.window);
  j.set("head_hidden", o.agent.head_hidden);
  j.set("lr", o.agent.lr);
  j.set("tau", o.agent.tau);
  j.set("alpha", o.agent.sac.alpha);
  j.set("gamma", o.agent.sac.gamma);
  j.set("agent_seed", int64_t(o.agent.seed));
  j.set("warmup_episodes", o.loop.warmup_episodes);
  j.set("train_episodes", o.loop.train_episodes);
  j.set("updates_per_step", o.loop.updates_per_step);
  j.set("batch", o.loop.batch);
  j.set("eval_interval", o.loop.eval_interval);
  j.set("eval_episodes", o.loop.eval_episodes);
  j.set("replay_capacity", o.loop.replay_capacity);
  j.set("loop_seed", int64_t(o.loop.seed));
  j.set("checkpoint_interval", o.checkpoint_interval);
  return j;
}

RlRunOptions rl_options_from_json(const io::Json& j) {
  RlRunOptions o;
  o.env = {j.at("env").as_string(), j.at("length").as_int(), uint64_t(j.at("env_seed").as_int())};
  o.agent.model = j.at("model").as_string();
  o.agent.width = j.at("width").as_int(), o.agent.layers = j.at("layers").as_int();
  o.agent.heads = j.at("heads").as_int(), o.agent.window = j.at("window").as_int();
  o.agent.head_hidden = j.at("head_hidden").as_int();
  o.agent.lr = j.at("lr").as_double(), o.agent.tau = j.at("tau").as_double();
  o.agent.sac.alpha = j.at("alpha").as_double(), o.agent.sac.gamma = j.at("gamma").as_double();
  o.agent.seed = uint64_t(j.at("agent_seed").as_int());
  o.loop.warmup_episodes = j.at("warmup_episodes").as_int(), o.loop.train_episodes = j.at("train_episodes").as_int();
  o.loop.updates_per_step = j.at("updates_per_step").as_double(), o.loop.batch = j.at("batch").as_int();
  o.loop.eval_interval = j.at("eval_interval").as_int(), o.loop.eval_episodes = j.at("eval_episodes").as_int();
  o.loop.replay_capacity = j.at("replay_capacity").as_int();
  o.loop.seed = uint64_t(j.at("loop_seed").as_int());
  o.checkpoint_interval = j.at("checkpoint_interval").as_int();
  return o;
}

namespace {

std::string options_path(const std::string& dir) { return dir + "/rl_options.json"; }
std::string metrics_path(const std::string& dir) { return dir + "/metrics.jsonl"; }

// The trainer's files, written whole into checkpoint.new/ and swapped in (train/run_dir.h).
void save_checkpoint(AgentTrainer& trainer, const std::string& dir) {
  replace_folder(dir + "/checkpoint", [&](const std::string& fresh) { trainer.save(fresh); });
}

std::string open_checkpoint(const std::string& dir) {
  const std::string live = repair_folder(dir + "/checkpoint");
  HQLT_CHECK(fs::exists(live + "/state.json"), "no RL checkpoint in '", dir, "' (expected ", live, "/state.json)");
  return live;
}

void write_plots(const std::string& dir) {
  Series ret{"mean return", {}, {}}, success{"success rate", {}, {}};
  for (const io::Json& r : read_metrics(metrics_path(dir))) {
    const double episodes = double(r.at("episodes").as_int());
    ret.x.push_back(episodes), ret.y.push_back(r.at("return").as_double());
    success.x.push_back(episodes), success.y.push_back(r.at("success").as_double());
  }
  PlotSpec spec;
  spec.x_label = "episodes";
  spec.title = "greedy evaluation: mean return";
  spec.y_label = "return";
  spec.series = {ret};
  write_line_plot(spec, dir + "/return.png");
  spec.title = "greedy evaluation: success rate";
  spec.y_label = "success rate";
  spec.series = {success};
  write_line_plot(spec, dir + "/success.png");
}

// Runs (or continues) the trainer in pieces of `checkpoint_interval` episodes.
bool drive(AgentTrainer& trainer, const RlRunOptions& o, const std::string& dir, const RlRunControl& control,
           const std::string& label) {
  MetricsLog log(metrics_path(dir));
  const auto start = std::chrono::steady_clock::now();
  const auto on_evaluation = [&](const Evaluation& e) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log.write({{"episodes", e.episodes}, {"env_steps", e.env_steps}, {"updates", e.updates},
               {"return", e.mean_return}, {"success", e.success_rate}, {"critic_loss", e.critic_loss},
               {"actor_loss", e.actor_loss}, {"entropy", e.entropy}, {"seconds", seconds}});
    if (!control.quiet)
      std::printf("%s episode %5lld/%lld  return %8.3f  success %.2f  updates %lld  (%.0f s)\n", label.c_str(),
                  (long long)e.episodes, (long long)trainer.total_episodes(), e.mean_return, e.success_rate,
                  (long long)e.updates, seconds);
  };
  InterruptGuard guard;
  const auto keep_going = [] { return !interrupted(); };
  while (!trainer.finished()) {
    int64_t boundary = (trainer.progress().episodes / o.checkpoint_interval + 1) * o.checkpoint_interval;
    if (control.stop_at >= 0) boundary = std::min(boundary, control.stop_at);
    trainer.run(on_evaluation, std::max(boundary, trainer.progress().episodes + 1), keep_going);
    save_checkpoint(trainer, dir);
    const bool stop_here = control.stop_at >= 0 && trainer.progress().episodes >= control.stop_at;
    if (!trainer.finished() && (interrupted() || stop_here)) {
      std::printf("stopped after %lld episodes with a checkpoint; continue with: hqlt rl train --resume %s\n",
                  (long long)trainer.progress().episodes, dir.c_str());
      clear_interrupt();
      return false;
    }
  }
  write_plots(dir);
  std::printf("%s: %lld episodes, final greedy return %.3f, success %.2f; run folder %s\n", label.c_str(),
              (long long)trainer.progress().episodes, trainer.progress().mean_return, trainer.progress().success_rate,
              dir.c_str());
  return true;
}

}  // namespace

bool rl_train_new(const RlRunOptions& o, const std::string& dir, const RlRunControl& control) {
  HQLT_CHECK(o.checkpoint_interval >= 1, "--checkpoint-interval must be >= 1, got ", o.checkpoint_interval);
  HQLT_CHECK(!fs::exists(options_path(dir)), "'", dir, "' already holds a run (use --resume to continue it)");
  auto env = make_env(o.env);
  Agent agent(*env, o.agent);
  AgentTrainer trainer(*env, agent, o.loop);
  fs::create_directories(dir);
  io::write_json_file(options_path(dir), rl_options_to_json(o));
  save_checkpoint(trainer, dir);  // a run has a checkpoint from its start
  std::printf("training a %s agent on %s: %lld + %lld episodes of %lld actions; run folder %s\n",
              o.agent.model.c_str(), env->name().c_str(), (long long)o.loop.warmup_episodes,
              (long long)o.loop.train_episodes, (long long)env->episode_length(), dir.c_str());
  return drive(trainer, o, dir, control, env->name() + " " + o.agent.model);
}

bool rl_run_finished(const std::string& dir) {
  return io::read_json_file(open_checkpoint(dir) + "/state.json").at("finished").as_bool();
}

bool rl_train_resume(const std::string& dir, const RlRunControl& control) {
  HQLT_CHECK(fs::exists(options_path(dir)), "'", dir, "' is not an RL run (no rl_options.json)");
  const RlRunOptions o = rl_options_from_json(io::read_json_file(options_path(dir)));
  auto env = make_env(o.env);
  Agent agent(*env, o.agent);
  AgentTrainer trainer(*env, agent, o.loop);
  trainer.load(open_checkpoint(dir));
  if (!trainer.finished()) {
    // The records from the checkpoint's episode on are written again by the continued run.
    const int64_t episodes = trainer.progress().episodes;
    filter_metrics(metrics_path(dir), [episodes](const io::Json& r) { return r.at("episodes").as_int() < episodes; });
  }
  std::printf("resuming %s after %lld episodes\n", dir.c_str(), (long long)trainer.progress().episodes);
  return drive(trainer, o, dir, control, env->name() + " " + o.agent.model);
}

}  // namespace hqlt::train::rl
