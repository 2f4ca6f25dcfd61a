#pragma once
// AdamW (Loshchilov & Hutter), the update of torch.optim.AdamW: weight decay is decoupled
// from the gradient (it shrinks the parameter directly) and both moments are
// bias-corrected. For a parameter p with gradient g, at its step t = 1, 2, ...:
//
//   p ← p · (1 − lr·λ)                                 decoupled weight decay (λ = group's)
//   m ← β1·m + (1 − β1)·g                              first moment
//   v ← β2·v + (1 − β2)·g²                             second moment
//   p ← p − (lr / (1 − β1^t)) · m / ( √v / √(1 − β2^t) + ε )
//
// State per parameter: m and v (the parameter's shape and dtype, created as zeros at its
// first update) and its own step count t. A parameter whose .grad is undefined is skipped
// (nothing changes, not even t), as PyTorch does. The update is one plain loop over the
// elements under NoGrad, split across OpenMP threads when large; every element is
// independent, so the result does not depend on the thread count.
//
// Parameter groups carry their own weight decay. decay_groups() builds the usual two:
// matrices decay, while norm weights, biases, scalars (any parameter with fewer than 2
// dims) and embedding tables do not — unless decay_everything, which is what the
// reference trainers do (docs/math/tasks.md §A.9, §B.2: weight decay on every parameter).
//
// The state is exposed (state()) and round-trips through state_dict() / load_state_dict()
// with names "<param>.exp_avg", "<param>.exp_avg_sq" and "<param>.step" (i64, shape [1]),
// so a run restored from a checkpoint continues with the same bits.
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace hqlt::nn {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // for the constructor that takes one list of parameters
};

struct ParamGroup {
  std::vector<NamedTensor> params;
  double weight_decay = 0.0;
};

struct AdamWParamState {
  int64_t step = 0;
  Tensor exp_avg;     // m, undefined until the first update
  Tensor exp_avg_sq;  // v
};

// {decaying group, non-decaying group} of model's parameters (empty groups are dropped).
std::vector<ParamGroup> decay_groups(Module& model, double weight_decay, bool decay_everything = false);

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);
  // One group holding every parameter, with options.weight_decay.
  AdamW(const std::vector<NamedTensor>& params, AdamWOptions options);

  // One update of every parameter that has a gradient.
  void step();
  // Drops every parameter's gradient.
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr);
  const AdamWOptions& options() const { return options_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // The state of the parameter with this name (throws if the name is unknown).
  AdamWParamState& state(const std::string& name);
  StateDict state_dict() const;
  // Restores the state saved by state_dict(): every name must belong to a parameter of this
  // optimiser, with the parameter's shape and dtype; a parameter absent from `state` starts
  // afresh (step 0). Checked in full before anything changes.
  void load_state_dict(const StateDict& state);

 private:
  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::vector<AdamWParamState> states_;  // one per parameter, in group order
};

}  // namespace hqlt::nn
