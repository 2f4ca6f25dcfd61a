// The agent's training loop (train/rl/loop.h): its bookkeeping (when it evaluates, how many
// updates and actions), that a run is a function of its seed, and that an agent learns the
// short passive T-Maze (slow).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "models/model_fixtures.h"
#include "train/rl/loop.h"

using namespace hqlt;
using namespace hqlt::train;
using namespace hqlt::train::rl;

namespace {

AgentConfig tiny_agent(const std::string& model) {
  AgentConfig c;
  c.model = model, c.width = 16, c.layers = 1, c.heads = 2, c.window = 4, c.head_hidden = 32, c.lr = 1e-3;
  return c;
}

std::vector<Evaluation> run(const LoopOptions& o, const std::string& model = "delta_net") {
  auto env = make_env({"passive_tmaze", 3, 5});
  Agent agent(*env, tiny_agent(model));
  std::vector<Evaluation> seen;
  train_agent(*env, agent, o, [&](const Evaluation& e) { seen.push_back(e); });
  return seen;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("the RL loop evaluates at 0 and every interval and counts its updates") {
    LoopOptions o;
    o.warmup_episodes = 3, o.train_episodes = 4, o.eval_interval = 2, o.eval_episodes = 2, o.batch = 2;
    const std::vector<Evaluation> seen = run(o);
    // Episodes of 4 actions: evaluations at 0, 4 and 6 episodes (multiples of 2 before an
    // episode is played, after the warm-up's 3) and at the end (7).
    std::vector<int64_t> at;
    for (const Evaluation& e : seen) at.push_back(e.episodes);
    CHECK(at == std::vector<int64_t>{0, 4, 6, 7});
    const Evaluation& last = seen.back();
    CHECK(last.env_steps == 7 * 4);
    CHECK(last.updates == int64_t(0.25 * 12) + 4 * 1);  // ⌊0.25·12⌋, then ⌈0.25·4⌉ per episode
    CHECK(seen.front().updates == 0);
    for (const Evaluation& e : seen) CHECK((e.success_rate >= 0 && e.success_rate <= 1));
  }

  TEST_CASE("an RL run is a function of its seed") {
    LoopOptions o;
    o.warmup_episodes = 2, o.train_episodes = 3, o.eval_interval = 1, o.eval_episodes = 2, o.batch = 2;
    const std::vector<Evaluation> a = run(o), b = run(o);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].critic_loss == b[i].critic_loss);
      CHECK(a[i].mean_return == b[i].mean_return);
    }
  }

  TEST_CASE("an RL run saved after any episode and continued computes the unbroken run") {
    LoopOptions o;
    o.warmup_episodes = 2, o.train_episodes = 5, o.eval_interval = 2, o.eval_episodes = 2, o.batch = 3;
    o.updates_per_step = 0.5;
    const auto fresh = [] {
      auto env = make_env({"key_to_door", 2, 4});
      auto agent = std::make_shared<Agent>(*env, tiny_agent("sync_hqlt"));
      return std::make_pair(std::move(env), agent);
    };
    auto [env_a, agent_a] = fresh();
    AgentTrainer unbroken(*env_a, *agent_a, o);
    std::vector<Evaluation> want;
    unbroken.run([&](const Evaluation& e) { want.push_back(e); });
    for (const int64_t stop : {2, 4, 6}) {
      CAPTURE(stop);
      const hqlt::testing::TempDir dir("rl_resume");
      std::vector<Evaluation> got;
      const auto record = [&](const Evaluation& e) { got.push_back(e); };
      {
        auto [env, agent] = fresh();
        AgentTrainer first(*env, *agent, o);
        CHECK_FALSE(first.run(record, stop));
        first.save(dir.path.string());
      }
      auto [env, agent] = fresh();
      AgentTrainer second(*env, *agent, o);
      second.load(dir.path.string());
      CHECK(second.run(record));
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].episodes == want[i].episodes);
        CHECK(got[i].updates == want[i].updates);
        CHECK(got[i].critic_loss == want[i].critic_loss);
        CHECK(got[i].mean_return == want[i].mean_return);
      }
      const nn::StateDict a = agent_a->state_dict(), b = agent->state_dict();
      size_t differing = 0;
      for (const auto& [name, t] : a) differing += t.to_vector() != b.at(name).to_vector();
      CHECK(differing == 0);
    }
  }
}

TEST_SUITE("slow") {
  // Corridor 3, width 16, one layer: on the 2-core AVX-512 machine of 2026-12-07 every
  // model reached success 1.0 by episode 125-150 in each of seeds 1-3 (about 4 s a model).
  TEST_CASE("an agent learns the short passive T-Maze") {
    for (const std::string model : {"delta_net", "sync_hqlt", "transformer"}) {
      CAPTURE(model);
      LoopOptions o;
      o.warmup_episodes = 10, o.train_episodes = 200, o.eval_interval = 25, o.eval_episodes = 20, o.batch = 16;
      o.updates_per_step = 1.0;
      const std::vector<Evaluation> seen = run(o, model);
      CHECK(seen.back().success_rate >= 0.95);
    }
  }
}
