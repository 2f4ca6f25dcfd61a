#include "train/rl/sac.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise/elementwise.h"
#include "ops/embedding/embedding.h"
#include "ops/reduce/reduce.h"
#include "ops/softmax/softmax.h"

namespace hqlt::train::rl {
namespace {

constexpr double kLogFloor = 1e-8;

void check_inputs(const Tensor& logits, const Tensor& q1, const Tensor& q2, const Tensor& q1_target,
                  const Tensor& q2_target, const Tensor& actions, const Tensor& rewards, const Tensor& dones,
                  const Tensor& mask) {
  HQLT_CHECK(logits.defined() && logits.dim() == 3 && logits.size(0) >= 2,
             "sac: logits must be [T+1, B, A] with T >= 1, got ", logits.defined() ? shape_str(logits.shape()) : "none");
  const int64_t T = logits.size(0) - 1, B = logits.size(1);
  for (const Tensor* q : {&q1, &q2, &q1_target, &q2_target})
    HQLT_CHECK(q->defined() && q->shape() == logits.shape(), "sac: every critic output must be ",
               shape_str(logits.shape()), " like the logits, got ", q->defined() ? shape_str(q->shape()) : "none");
  const Shape steps{T, B};
  for (const Tensor* s : {&actions, &rewards, &dones, &mask})
    HQLT_CHECK(s->defined() && s->shape() == steps, "sac: actions, rewards, dones and mask must be [", T,
               ", ", B, "], got ", s->defined() ? shape_str(s->shape()) : "none");
}

}  // namespace

SacLosses sac_discrete_losses(const Tensor& logits, const Tensor& q1, const Tensor& q2, const Tensor& q1_target,
                              const Tensor& q2_target, const Tensor& actions, const Tensor& rewards,
                              const Tensor& dones, const Tensor& mask, const SacConfig& config) {
  check_inputs(logits, q1, q2, q1_target, q2_target, actions, rewards, dones, mask);
  const int64_t T = logits.size(0) - 1;
  const Tensor probs = softmax(logits, -1);
  const Tensor log_probs = log(clamp_min(probs, kLogFloor));
  const Tensor n_valid = sum(mask);

  // y_t from position t + 1, without gradient.
  Tensor y;
  {
    NoGrad no_grad;
    const Tensor next_q = minimum(q1_target.slice(0, 1, T + 1), q2_target.slice(0, 1, T + 1));
    const Tensor next_value =
        sum(probs.slice(0, 1, T + 1) * (next_q - log_probs.slice(0, 1, T + 1) * config.alpha), {-1});
    y = rewards + (1.0 - dones) * next_value * config.gamma;
  }

  const Tensor taken = actions.unsqueeze(-1);
  const auto critic_loss = [&](const Tensor& q) {
    const Tensor predicted = gather(q.slice(0, 0, T), -1, taken).squeeze(-1);
    const Tensor error = predicted - y;
    return sum(mask * error * error) / n_valid;
  };
  SacLosses out;
  out.critic_1 = critic_loss(q1);
  out.critic_2 = critic_loss(q2);

  const Tensor p = probs.slice(0, 0, T), log_p = log_probs.slice(0, 0, T);
  const Tensor q_frozen = minimum(q1.slice(0, 0, T).detach(), q2.slice(0, 0, T).detach());
  out.actor = sum(mask * sum(p * (log_p * config.alpha - q_frozen), {-1})) / n_valid;
  out.total = (out.critic_1 + out.critic_2) * 0.5 + out.actor;

  NoGrad no_grad;
  out.q_mean = (sum(mask * gather(q1.slice(0, 0, T), -1, taken).squeeze(-1)) / n_valid).item();
  out.entropy = (sum(mask * sum(p * log_p, {-1})) / n_valid).item() * -1.0;
  return out;
}

}  // namespace hqlt::train::rl
