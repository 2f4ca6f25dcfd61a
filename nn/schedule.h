#pragma once
// Learning-rate schedules: a linear warm-up, then a decay (cosine, linear, or none) from the
// peak to a floor, then the floor. k is the number of optimiser steps already taken
// (0 for the first update).
//
// Plain counting (Counting::plain — the synthetic-task trainer's
// LinearWarmupCosineAnnealing, docs/math/tasks.md §A.9), W = warmup_steps, E = decay_end:
//
//   k < W:        lr = peak · k / W                          (the first update uses lr = 0)
//   W ≤ k < E:    lr = floor + f((k − W) / (E − W)) · (peak − floor)
//   k ≥ E:        lr = floor
//
// Shifted counting (Counting::shifted — the LM trainer's torchtitan warm-up/decay, §B.2),
// where E is the total number of steps S:
//
//   k < W:        lr = peak · (k + 1) / (W + 1)
//   otherwise:    p = min(1, (k + 1 − W) / (E − W + 1)),  lr = floor + f(p) · (peak − floor)
//
// with f(p) = ½(1 + cos πp) for cosine, 1 − p for linear, and 1 for constant (which is
// "warm up, then hold the peak"; with W = 0 it is a plain constant).
#include <cstdint>

namespace hqlt::nn {

enum class Decay { constant, cosine, linear };
enum class Counting { plain, shifted };

struct Schedule {
  double peak_lr = 1e-3;
  double floor_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t decay_end = 0;  // plain: the step where the floor is reached; shifted: total steps
  Decay decay = Decay::cosine;
  Counting counting = Counting::plain;

  // Throws hqlt::Error for negative values or warmup_steps > decay_end (outside constant).
  void validate() const;
  // The learning rate for the update after k completed steps (k >= 0).
  double lr(int64_t k) const;
};

// The constant schedule.
Schedule constant_schedule(double lr);

}  // namespace hqlt::nn
