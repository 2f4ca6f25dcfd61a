#include "nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace hqlt::nn {
namespace {

// The decay shape f: 1 at p = 0, 0 at p = 1.
double shape(Decay decay, double p) {
  switch (decay) {
    case Decay::constant: return 1.0;
    case Decay::cosine: return 0.5 * (1.0 + std::cos(std::numbers::pi * p));
    case Decay::linear: return 1.0 - p;
  }
  return 1.0;
}

}  // namespace

void Schedule::validate() const {
  HQLT_CHECK(peak_lr >= 0 && floor_lr >= 0, "Schedule: learning rates must be >= 0, got peak ", peak_lr, " and floor ",
             floor_lr);
  HQLT_CHECK(warmup_steps >= 0, "Schedule: warmup_steps must be >= 0, got ", warmup_steps);
  HQLT_CHECK(decay == Decay::constant || decay_end >= warmup_steps, "Schedule: decay_end (", decay_end,
             ") must be >= warmup_steps (", warmup_steps, ")");
}

double Schedule::lr(int64_t k) const {
  validate();
  HQLT_CHECK(k >= 0, "Schedule: the step must be >= 0, got ", k);
  const double W = double(warmup_steps), E = double(decay_end), kd = double(k);
  if (counting == Counting::plain) {
    if (k < warmup_steps) return peak_lr * kd / W;
    if (decay == Decay::constant) return peak_lr;
    if (k >= decay_end) return floor_lr;
    return floor_lr + shape(decay, (kd - W) / (E - W)) * (peak_lr - floor_lr);
  }
  if (k < warmup_steps) return peak_lr * (kd + 1) / (W + 1);
  if (decay == Decay::constant) return peak_lr;
  const double p = std::min(1.0, (kd + 1 - W) / (E - W + 1));
  return floor_lr + shape(decay, p) * (peak_lr - floor_lr);
}

Schedule constant_schedule(double lr) {
  Schedule s;
  s.peak_lr = s.floor_lr = lr;
  s.decay = Decay::constant;
  return s;
}

}  // namespace hqlt::nn
