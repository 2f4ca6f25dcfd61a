#pragma once
// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_:
//
//   N = sqrt( Σ_params Σ_elements g² )                  (parameters without a grad skipped)
//   c = max_norm / (N + 1e-6);  if c < 1: every g ← g · c
//
// and the pre-clip N is returned (the number training logs show as grad_norm). When N is
// NaN or infinite nothing is scaled and N is returned as it is, so the caller can skip the
// step (the LM trainer's skip_nan_inf, docs/math/tasks.md §B.2).
//
// The squares are summed in double over fixed blocks of 2^16 elements, in parallel, and
// the block sums are added in order: the result has the same bits for any thread count.
#include <vector>

#include "engine/tensor.h"

namespace hqlt::nn {

// N as above, without changing anything.
double grad_norm(const std::vector<Tensor>& params);
// Clips in place and returns the pre-clip N. max_norm must be > 0.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace hqlt::nn
