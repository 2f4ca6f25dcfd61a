// The SAC-Discrete losses (train/rl/sac.h, docs/math/rl.md §2.3): values against a hand
// computation in plain double loops on a tiny batch, gradients by finite differences, the
// actor loss leaving the critics alone, and bad shapes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "train/rl/sac.h"

using namespace hqlt;
using namespace hqlt::testing;
using namespace hqlt::train::rl;
using Ts = std::vector<Tensor>;

namespace {

// T = 2 actions, B = 2 episodes, A = 3 actions; positions 0..2. Row-major [T+1, B, A].
constexpr int64_t kT = 2, kB = 2, kA = 3;
const std::vector<double> kLogits = {0.2, -0.5, 1.0, 0.0, 0.3, -0.2, 1.5, 0.1, -1.0, -0.3, 0.8, 0.4, 0.6, -0.6, 0.0, 0.9, 0.2, -0.4};
const std::vector<double> kQ1 = {1.0, 0.5, -0.2, 0.3, 0.9, 0.1, 0.7, -0.4, 0.2, 0.0, 0.6, 1.1, 0.4, 0.8, -0.3, 0.5, 0.2, 0.9};
const std::vector<double> kQ2 = {0.8, 0.7, -0.1, 0.5, 0.6, 0.3, 0.9, -0.2, 0.1, 0.2, 0.4, 1.0, 0.3, 0.9, -0.5, 0.6, 0.1, 1.2};
const std::vector<double> kQ1t = {0.9, 0.4, 0.0, 0.2, 1.0, 0.2, 0.6, -0.3, 0.3, 0.1, 0.5, 1.0, 0.5, 0.7, -0.2, 0.4, 0.3, 0.8};
const std::vector<double> kQ2t = {1.1, 0.3, 0.1, 0.4, 0.8, 0.0, 0.5, -0.1, 0.4, 0.2, 0.7, 0.9, 0.2, 1.0, -0.4, 0.7, 0.0, 1.0};
const std::vector<double> kActions = {2, 0, 1, 2}, kRewards = {0.0, 0.5, 1.0, -0.25}, kDones = {0, 0, 1, 1},
                          kMask = {1, 1, 1, 0};

struct Hand {
  double critic_1, critic_2, actor, total;
};

// The losses term by term, as docs/math/rl.md §2.3 writes them.
Hand by_hand(double alpha, double gamma) {
  const auto at = [](const std::vector<double>& v, int64_t t, int64_t b, int64_t a) { return v[size_t((t * kB + b) * kA + a)]; };
  const auto policy = [&](int64_t t, int64_t b, std::vector<double>& p, std::vector<double>& lp) {
    double m = -1e300, z = 0;
    for (int64_t a = 0; a < kA; ++a) m = std::max(m, at(kLogits, t, b, a));
    for (int64_t a = 0; a < kA; ++a) z += std::exp(at(kLogits, t, b, a) - m);
    p.assign(kA, 0), lp.assign(kA, 0);
    for (int64_t a = 0; a < kA; ++a) p[size_t(a)] = std::exp(at(kLogits, t, b, a) - m) / z, lp[size_t(a)] = std::log(std::max(p[size_t(a)], 1e-8));
  };
  double n = 0, c1 = 0, c2 = 0, actor = 0;
  for (int64_t t = 0; t < kT; ++t)
    for (int64_t b = 0; b < kB; ++b) {
      const size_t i = size_t(t * kB + b);
      const double mask = kMask[i];
      n += mask;
      std::vector<double> p, lp;
      policy(t + 1, b, p, lp);
      double v = 0;
      for (int64_t a = 0; a < kA; ++a)
        v += p[size_t(a)] * (std::min(at(kQ1t, t + 1, b, a), at(kQ2t, t + 1, b, a)) - alpha * lp[size_t(a)]);
      const double y = kRewards[i] + (1 - kDones[i]) * gamma * v;
      const int64_t a_t = int64_t(kActions[i]);
      c1 += mask * std::pow(at(kQ1, t, b, a_t) - y, 2);
      c2 += mask * std::pow(at(kQ2, t, b, a_t) - y, 2);
      policy(t, b, p, lp);
      for (int64_t a = 0; a < kA; ++a)
        actor += mask * p[size_t(a)] * (alpha * lp[size_t(a)] - std::min(at(kQ1, t, b, a), at(kQ2, t, b, a)));
    }
  return {c1 / n, c2 / n, actor / n, 0.5 * (c1 + c2) / n + actor / n};
}

Tensor head(const std::vector<double>& v, DType dtype = DType::f64) { return from_vector(v, {kT + 1, kB, kA}, dtype); }
Tensor step(const std::vector<double>& v, DType dtype = DType::f64) { return from_vector(v, {kT, kB}, dtype); }

SacLosses losses_of(const Tensor& logits, const Tensor& q1, const Tensor& q2, const SacConfig& config = {}) {
  const DType dt = logits.dtype();
  return sac_discrete_losses(logits, q1, q2, head(kQ1t, dt), head(kQ2t, dt), step(kActions, DType::i64),
                             step(kRewards, dt), step(kDones, dt), step(kMask, dt), config);
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("SAC-Discrete losses against a hand computation") {
    for (const SacConfig config : {SacConfig{}, SacConfig{0.5, 0.9}}) {
      CAPTURE(config.alpha);
      const SacLosses l = losses_of(head(kLogits), head(kQ1), head(kQ2), config);
      const Hand h = by_hand(config.alpha, config.gamma);
      CHECK(l.critic_1.item() == doctest::Approx(h.critic_1).epsilon(1e-12));
      CHECK(l.critic_2.item() == doctest::Approx(h.critic_2).epsilon(1e-12));
      CHECK(l.actor.item() == doctest::Approx(h.actor).epsilon(1e-12));
      CHECK(l.total.item() == doctest::Approx(h.total).epsilon(1e-12));
    }
  }

  TEST_CASE("the SAC actor loss leaves the critics alone and the critic loss the actor") {
    Tensor logits = head(kLogits), q1 = head(kQ1), q2 = head(kQ2);
    for (Tensor* t : {&logits, &q1, &q2}) t->set_requires_grad(true);
    losses_of(logits, q1, q2).actor.backward();
    CHECK(logits.grad().defined());
    CHECK_FALSE(q1.grad().defined());
    CHECK_FALSE(q2.grad().defined());
    logits.zero_grad();
    const SacLosses l = losses_of(logits, q1, q2);
    (l.critic_1 + l.critic_2).backward();
    CHECK_FALSE(logits.grad().defined());  // the targets use the policy without gradient
    CHECK(q1.grad().defined());
    // The masked step (t = 1, b = 1) and the actions not taken get no critic gradient.
    const std::vector<double> g = q1.grad().to_vector();
    int nonzero = 0;
    for (double x : g) nonzero += x != 0.0;
    CHECK(nonzero == 3);
  }

  TEST_CASE("SAC-Discrete losses refuse mismatched shapes") {
    CHECK_THROWS_WITH_AS(losses_of(from_vector({0, 0}, {1, 1, 2}), head(kQ1), head(kQ2)), doctest::Contains("T >= 1"),
                         Error);
    CHECK_THROWS_WITH_AS(sac_discrete_losses(head(kLogits), head(kQ1), head(kQ2), head(kQ1t), head(kQ2t),
                                             step(kActions, DType::i64), from_vector({1, 2}, {2}), step(kDones),
                                             step(kMask)),
                         doctest::Contains("must be [2, 2]"), Error);
  }
}

TEST_SUITE("gradcheck") {
  // The losses stop gradients on purpose (the targets, the frozen critics), so a finite
  // difference of the total would see paths the tape rightly ignores. Each check below
  // varies only inputs whose every path the tape follows: the logits with every step an
  // episode's end (the targets then do not read the policy) and the critics held fixed;
  // the critics through the critic losses alone.
  TEST_CASE("gradcheck the SAC-Discrete actor through the total loss") {
    auto f = [](const Ts& in) {
      const DType dt = in[0].dtype();
      return sac_discrete_losses(in[0], head(kQ1, dt), head(kQ2, dt), head(kQ1t, dt), head(kQ2t, dt),
                                 step(kActions, DType::i64), step(kRewards, dt), step({1, 1, 1, 1}, dt),
                                 step(kMask, dt))
          .total;
    };
    Tensor logits = head(kLogits);
    logits.set_requires_grad(true);
    HQLT_CHECK_GRADIENTS(f, (Ts{logits}));
  }
  TEST_CASE("gradcheck the SAC-Discrete critic losses") {
    auto f = [](const Ts& in) {
      const SacLosses l = losses_of(head(kLogits, in[0].dtype()), in[0], in[1]);
      return l.critic_1 + l.critic_2 * 0.5;
    };
    Tensor q1 = head(kQ1), q2 = head(kQ2);
    q1.set_requires_grad(true), q2.set_requires_grad(true);
    HQLT_CHECK_GRADIENTS(f, (Ts{q1, q2}));
  }
}
