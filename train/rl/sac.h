#pragma once
// The SAC-Discrete losses over whole episodes (docs/math/rl.md §2.3), from the heads'
// outputs at every position of a batch of episodes. Positions run t = 0 .. T (T + 1 of them:
// the memory model's h_0 .. h_T), actions and what followed them t = 0 .. T − 1.
//
//   logits              [T+1, B, A]  actor(h_t), with gradient
//   q1, q2              [T+1, B, A]  the critics Q_i(h_t), with gradient
//   q1_target, q2_target [T+1, B, A] the target critics (their gradient is never taken)
//   actions             [T, B]  i64, a_t
//   rewards, dones, mask [T, B]     r_{t+1}, d_{t+1} (1 at an episode's end), 1 where valid
//
//   π_t = softmax(logits_t),  log π_t = log max(π_t, 10⁻⁸)
//   y_t = r_{t+1} + (1 − d_{t+1}) · γ · Σ_a π_{t+1}(a) (min(Q1targ, Q2targ)_{t+1}(a) − α log π_{t+1}(a))
//   L_Qi = Σ mask · (Q_i(h_t)_{a_t} − y_t)² / N
//   L_π  = Σ mask · Σ_a π_t(a) (α log π_t(a) − min(Q1, Q2)_t(a)) / N   (the critics frozen)
//   N = Σ mask,   total = ½ (L_Q1 + L_Q2) + L_π
//
// The targets are computed without gradient; the actor loss reads the critics' values only
// (the frozen copies the reference makes have the same weights, so the same values), so its
// gradient reaches the logits and, through them, the memory model, never the critics.
#include "engine/tensor.h"

namespace hqlt::train::rl {

struct SacConfig {
  double alpha = 0.1;   // entropy temperature, fixed
  double gamma = 0.99;  // discount
};

struct SacLosses {
  Tensor total;         // ½ (critic_1 + critic_2) + actor, a scalar with gradient
  Tensor critic_1, critic_2, actor;
  double q_mean = 0;    // mean of Q1 at the actions taken (valid steps)
  double entropy = 0;   // mean −Σ π log π over valid steps
};

SacLosses sac_discrete_losses(const Tensor& logits, const Tensor& q1, const Tensor& q2, const Tensor& q1_target,
                              const Tensor& q2_target, const Tensor& actions, const Tensor& rewards,
                              const Tensor& dones, const Tensor& mask, const SacConfig& config = {});

}  // namespace hqlt::train::rl
