// The SAC-Discrete agent (train/rl/agent.h): acting step by step through the memory model's
// caches gives the action probabilities of one pass over the whole episode (f64, 1e-9, for
// the three memory systems and both kinds of observation); an update trains every part but
// the targets, which move by tau; repeated updates on one batch fit the critics.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "ops/softmax/softmax.h"
#include "train/rl/agent.h"

using namespace hqlt;
using namespace hqlt::train;
using namespace hqlt::train::rl;

namespace {

// One episode with random actions.
Episode play(Env& env, uint64_t episode, Generator& gen) {
  return play_episode(env, Split::train, episode,
                      [&](const Observation&) { return int(randint(0, kActions, {1}, DType::i64, gen).to_vector()[0]); });
}

AgentConfig small(const std::string& model) {
  AgentConfig c;
  c.model = model, c.width = 16, c.layers = 2, c.heads = 2, c.window = 4, c.head_hidden = 32;
  return c;
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("acting through the caches gives the whole-episode pass's action probabilities") {
    for (const std::string env_name : {"passive_tmaze", "key_to_door"})
      for (const std::string model : {"transformer", "delta_net", "sync_hqlt"}) {
        CAPTURE(env_name);
        CAPTURE(model);
        auto env = make_env({env_name, 6, 2});
        Agent agent(*env, small(model));
        agent.to(DType::f64);
        Generator gen{7, 0};
        ReplayBuffer buffer(1000);
        buffer.add(play(*env, 0, gen));
        const EpisodeBatch batch = buffer.gather({0});
        std::vector<double> whole;
        {
          NoGrad no_grad;
          whole = softmax(agent.actor->forward(agent.memory(batch.observations.to(DType::f64))), -1).to_vector();
        }
        models::DecodeState state;
        double worst = 0;
        const Episode& e = buffer.episode(0);
        for (size_t t = 0; t < e.observations.size(); ++t) {
          const std::vector<double> p = agent.policy_step(e.observations[t], state);
          for (int a = 0; a < kActions; ++a) worst = std::max(worst, std::abs(p[size_t(a)] - whole[t * kActions + size_t(a)]));
        }
        CHECK(worst <= 1e-9);
      }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("an agent update trains every part but the targets and fits the critics on a batch") {
    auto env = make_env({"passive_tmaze", 4, 3});
    AgentConfig c = small("sync_hqlt");
    c.lr = 3e-3;
    Agent agent(*env, c);
    Generator gen{2, 0};
    ReplayBuffer buffer(1000);
    for (uint64_t e = 0; e < 4; ++e) buffer.add(play(*env, e, gen));
    const EpisodeBatch batch = buffer.gather({0, 1, 2, 3});
    const auto values = [&](const char* name) { return agent.parameter(name).to_vector(); };
    const std::vector<double> enc0 = values("encoder.linear.weight"), mem0 = values("memory.model.layers.0.attn.q_proj.weight"),
                              q0 = values("q1.2.weight"), target0 = values("q1_target.2.weight");
    const SacLosses first = agent.update(batch);
    CHECK(values("encoder.linear.weight") != enc0);
    CHECK(values("memory.model.layers.0.attn.q_proj.weight") != mem0);
    const std::vector<double> q1 = values("q1.2.weight"), target1 = values("q1_target.2.weight");
    CHECK(q1 != q0);
    for (size_t i = 0; i < target0.size(); ++i)
      CHECK(target1[i] == doctest::Approx(0.995 * target0[i] + 0.005 * q1[i]).epsilon(1e-5));
    SacLosses last = first;
    for (int i = 0; i < 40; ++i) last = agent.update(batch);
    const double critic_first = first.critic_1.item() + first.critic_2.item();
    const double critic_last = last.critic_1.item() + last.critic_2.item();
    CHECK(critic_last < 0.5 * critic_first);
    CHECK(std::isfinite(last.entropy));
  }
}
