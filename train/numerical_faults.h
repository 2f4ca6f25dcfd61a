#pragma once
// What a training step does when its numbers go bad. A step whose loss or gradient holds a
// NaN or an infinity is skipped, as the reference trainers do (no update, the learning-rate
// schedule does not advance; docs/math/tasks.md §A.9), and the user is told which value went
// bad, at which step, and how many steps have been skipped so far. Skipping rides out one
// bad batch; it cannot rescue weights that have already gone bad, so a run that skips
// kMaxConsecutiveSkips steps in a row stops with that message instead of running on.
#include <cstdint>
#include <string>

#include "nn/module.h"

namespace hqlt::train {

inline constexpr int64_t kMaxConsecutiveSkips = 20;

// "" when every parameter's gradient is finite; otherwise names the first parameter (in
// named_parameters order) whose gradient is not, e.g.
//   "the gradient of 'model.layers.0.attn.q_proj.weight' has 3 non-finite values (of 16384)"
std::string non_finite_gradient(const nn::Module& model);

}  // namespace hqlt::train
