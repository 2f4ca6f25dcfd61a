#pragma once
// Modular arithmetic without brackets (docs/math/tasks.md §A.3, §A.6). Vocab 10: 0 PAD, 1 '+',
// 2 '−', 3 '×', 4 '=', 5..9 the digits 0..4 (modulus 5). A sample of odd length L = 2n − 1
// is `d op d op … d = r`: n − 1 numbers alternating with operators, '=' at L − 2 and the
// result r at L − 1, evaluated with × binding tighter than ±, left to right, and reduced
// mod 5 to [0, 5). n is uniform in [nmin, nmax], nmin = min(⌊(min+1)/2⌋, ⌊(max+1)/2⌋),
// nmax = ⌊(max+1)/2⌋ of the split's length range: train 3..40 → L ∈ {3, 5, …, 39},
// validation/test 40..256 → L ∈ {39, 41, …, 255}. As a model example (§A.5): input =
// seq[0 .. L−2] (ending in '='), target −1 except at the '=' (index L − 2) = the result.
#include "train/tasks/parity.h"
#include "train/tasks/task.h"

namespace hqlt::train {

struct ModularArithmeticOptions {
  uint64_t seed = 0;
  LengthRange train_lengths{3, 40};
  LengthRange eval_lengths{40, 256};
  uint64_t curriculum_examples = 0;  // see curriculum_range (parity.h)
  int64_t curriculum_start = 0;
};

class ModularArithmeticTask : public Task {
 public:
  static constexpr int64_t kPlus = 1, kMinus = 2, kTimes = 3, kEquals = 4, kFirstDigit = 5, kModulus = 5;

  explicit ModularArithmeticTask(const ModularArithmeticOptions& options = {});
  std::string name() const override { return "modular_arithmetic"; }
  bool judged_by_answers() const override { return true; }
  int64_t vocab_size() const override { return 10; }
  Example example(Split split, uint64_t index) const override;
  int64_t length_of(const Example& e) const override { return int64_t(e.input.size()) + 1; }  // L
  // The raw sample of §A.3: seq [L] (expression, '=', result).
  std::vector<int64_t> sequence(Split split, uint64_t index) const;

  // §A.3 step 5: the value mod 5 of an expression of tokens `number op number … number`.
  static int64_t evaluate(const std::vector<int64_t>& expression);

 private:
  ModularArithmeticOptions options_;
};

}  // namespace hqlt::train
