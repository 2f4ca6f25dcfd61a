#pragma once
// Parity (docs/math/tasks.md §A.2, §A.6). Vocab 3: 0 = PAD, 1 = bit 0, 2 = bit 1. A sample of length
// L (tokens up to and including the answer) holds L − 1 uniform bits followed by the answer
// 1 + (number of 1-bits mod 2) at position L − 1. L is uniform in [3, 40] for train and in
// [40, 256] for validation/test. As a model example (§A.5): input = the L − 1 bits
// ([L − 1]), target = −1 except the last position (index L − 2), whose target is the answer.
#include "train/tasks/task.h"

namespace hqlt::train {

struct LengthRange {
  int64_t min = 0, max = 0;  // inclusive range of L
};

// A length curriculum for the training split: example `index` draws its length from
// [range.min, cap] where cap grows linearly from `start` (0: range.min) to range.max over
// the first `ramp_examples` examples (0: no curriculum, the whole range from the start). A
// pure function of the index, so a resumed run draws the same examples.
LengthRange curriculum_range(const LengthRange& range, uint64_t index, uint64_t ramp_examples, int64_t start = 0);

struct ParityOptions {
  uint64_t seed = 0;
  LengthRange train_lengths{3, 40};
  LengthRange eval_lengths{40, 256};  // validation and test
  uint64_t curriculum_examples = 0;   // see curriculum_range
  int64_t curriculum_start = 0;
};

class ParityTask : public Task {
 public:
  explicit ParityTask(const ParityOptions& options = {});
  std::string name() const override { return "parity"; }
  bool judged_by_answers() const override { return true; }
  int64_t vocab_size() const override { return 3; }
  Example example(Split split, uint64_t index) const override;
  int64_t length_of(const Example& e) const override { return int64_t(e.input.size()) + 1; }  // L
  // The raw sample of §A.2: seq [L] (bits then answer) before the §A.5 conversion.
  std::vector<int64_t> sequence(Split split, uint64_t index) const;

 private:
  ParityOptions options_;
};

}  // namespace hqlt::train
