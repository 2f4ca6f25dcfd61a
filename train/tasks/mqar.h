#pragma once
// Multi-query associative recall (docs/math/tasks.md §D.1). Vocab V (even): 0 = PAD, keys
// 1 .. V/2 − 1, values V/2 .. V − 1. A sequence of length T ≥ 4P holds
//   context  k_1 v_1 … k_P v_P            at positions 0 .. 2P − 1 (P distinct keys,
//                                          values uniform, repeats allowed), then
//   queries  the same keys, shuffled, each followed by its value, at P random distinct
//            pair slots (positions 2P + 2s, 2P + 2s + 1) among the ⌊(T − 2P)/2⌋ slots,
//            the other positions 0.
// As a model example: input = the sequence [T]; target = −1 everywhere except at each
// query key, whose target is the value that follows it. Accuracy per query is
// supervised_accuracy (task.h); its sequence accuracy is "every query right".
// Train draws P uniform in [train_pairs_min, train_pairs_max] at length train_length;
// validation and test use eval_pairs at eval_length (run one task per test setting).
#include "train/tasks/task.h"

namespace hqlt::train {

// The keys of a vocabulary of V tokens: 1 .. V/2 − 1.
inline int64_t mqar_key_count(int64_t vocab_size) { return vocab_size / 2 - 1; }

struct MqarOptions {
  uint64_t seed = 0;
  int64_t vocab_size = 64;
  int64_t train_pairs_min = 4, train_pairs_max = 16, train_length = 128;
  int64_t eval_pairs = 16, eval_length = 128;
};

class MqarTask : public Task {
 public:
  explicit MqarTask(const MqarOptions& options = {});
  std::string name() const override { return "mqar"; }
  bool judged_by_answers() const override { return true; }
  int64_t vocab_size() const override { return options_.vocab_size; }
  Example example(Split split, uint64_t index) const override;

 private:
  MqarOptions options_;
};

}  // namespace hqlt::train
