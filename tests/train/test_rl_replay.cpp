// The replay buffer of whole episodes (train/rl/replay.h): the time-major layout sac.h
// reads, padding and masks for shorter episodes, the oldest episodes leaving first,
// uniform sampling from a seeded generator, and bad input.
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "engine/error.h"
#include "train/rl/replay.h"

using namespace hqlt;
using namespace hqlt::train::rl;

namespace {

// An episode of `t` actions whose values name themselves: observation o_k = {id, k}, action
// k % 4, reward id + k / 10, done on the last.
Episode numbered(int id, int t) {
  Episode e;
  for (int k = 0; k <= t; ++k) e.observations.push_back({float(id), float(k)});
  for (int k = 0; k < t; ++k) {
    e.actions.push_back(k % 4);
    e.rewards.push_back(id + k / 10.0);
    e.dones.push_back(k == t - 1);
  }
  return e;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("replay batches are time-major with shorter episodes padded and masked") {
    ReplayBuffer buffer(100);
    buffer.add(numbered(7, 3));
    buffer.add(numbered(9, 2));
    const EpisodeBatch b = buffer.gather({1, 0});
    CHECK(b.observations.shape() == Shape{4, 2, 2});
    CHECK(b.actions.shape() == Shape{3, 2});
    // column 0 is episode 9 (2 actions), column 1 episode 7 (3 actions).
    CHECK(b.observations.to_vector() == std::vector<double>{9, 0, 7, 0, 9, 1, 7, 1, 9, 2, 7, 2, 0, 0, 7, 3});
    CHECK(b.actions.to_vector() == std::vector<double>{0, 0, 1, 1, 0, 2});
    CHECK(b.dones.to_vector() == std::vector<double>{0, 0, 1, 0, 0, 1});
    CHECK(b.mask.to_vector() == std::vector<double>{1, 1, 1, 1, 0, 1});
    const std::vector<double> r = b.rewards.to_vector();
    CHECK(r[1] == doctest::Approx(7.0));
    CHECK(r[2] == doctest::Approx(9.1));
    CHECK(r[4] == 0.0);
  }

  TEST_CASE("replay drops the oldest episodes past its capacity and samples the rest uniformly") {
    ReplayBuffer buffer(10);
    for (int id = 0; id < 4; ++id) buffer.add(numbered(id, 4));  // 16 transitions: two go
    CHECK(buffer.episodes() == 2);
    CHECK(buffer.transitions() == 8);
    CHECK(buffer.episode(0).observations[0][0] == 2.f);
    Generator gen{5, 0}, again{5, 0};
    std::set<double> seen;
    int first = 0;
    for (int i = 0; i < 200; ++i) {
      const EpisodeBatch b = buffer.sample(3, gen);
      CHECK(b.observations.to_vector() == buffer.sample(3, again).observations.to_vector());  // seeded
      const std::vector<double> o = b.observations.to_vector();
      for (int col = 0; col < 3; ++col) {
        seen.insert(o[size_t(col * 2)]);
        first += o[size_t(col * 2)] == 2.0;
      }
    }
    CHECK(seen == std::set<double>{2, 3});
    CHECK(first > 240);  // about half of 600
    CHECK(first < 360);
  }

  TEST_CASE("replay refuses bad episodes and empty samples") {
    ReplayBuffer buffer(5);
    Generator gen{1, 0};
    CHECK_THROWS_WITH_AS(buffer.sample(2, gen), doctest::Contains("empty buffer"), Error);
    CHECK_THROWS_WITH_AS(buffer.add(numbered(1, 6)), doctest::Contains("does not fit"), Error);
    Episode broken = numbered(1, 3);
    broken.observations.pop_back();
    CHECK_THROWS_WITH_AS(buffer.add(broken), doctest::Contains("needs 4 observations"), Error);
    buffer.add(numbered(1, 2));
    Episode wide = numbered(2, 2);
    for (Observation& o : wide.observations) o.push_back(0.f);
    CHECK_THROWS_WITH_AS(buffer.add(wide), doctest::Contains("the buffer holds 2"), Error);
    CHECK_THROWS_WITH_AS(ReplayBuffer(0), doctest::Contains("capacity"), Error);
  }
}
