#pragma once
// An exponential moving average of a model's weights (Polyak averaging, as in
// torch.optim.swa_utils.AveragedModel with an EMA rule). After every optimiser step
//
//   a ← d · a + (1 − d) · w            (docs/math/tasks.md §E.2)
//
// for each parameter w and its average a, with a = w at the start. The average looks back
// about 1/(1 − d) steps (100 for d = 0.99). Where the trained weights wander around a good
// solution from step to step (a small batch, an optimiser that keeps moving after the
// training loss is zero), their average is closer to its centre than any single step.
#include <vector>

#include "engine/tensor.h"

namespace hqlt::nn {

// a ← d·a + (1 − d)·w, elementwise, in place, for each pair (average[i], weights[i]) of the
// same shape, dtype and device; not recorded on the tape. decay must be in [0, 1).
void update_average(const std::vector<Tensor>& average, const std::vector<Tensor>& weights, double decay);

}  // namespace hqlt::nn
