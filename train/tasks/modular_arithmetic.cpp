#include "train/tasks/modular_arithmetic.h"

#include <algorithm>

#include "engine/error.h"

namespace hqlt::train {

ModularArithmeticTask::ModularArithmeticTask(const ModularArithmeticOptions& options) : options_(options) {
  for (const LengthRange& r : {options.train_lengths, options.eval_lengths}) {
    // The shortest sample is `d = r` (n = 2, L = 3); 256 is the paper's context length.
    HQLT_CHECK(r.min >= 3 && r.min <= r.max && r.max <= 256, "modular_arithmetic: length range [", r.min,
               ", ", r.max, "] must satisfy 3 <= min <= max <= 256");
  }
}

int64_t ModularArithmeticTask::evaluate(const std::vector<int64_t>& expression) {
  HQLT_CHECK(expression.size() % 2 == 1, "modular_arithmetic: an expression has odd length, got ",
             expression.size());
  // Multiplications bind first: `product` collects the current term, `sign` is its ±.
  int64_t total = 0, product = expression[0] - kFirstDigit, sign = 1;
  for (size_t i = 1; i + 1 < expression.size(); i += 2) {
    const int64_t op = expression[i], number = expression[i + 1] - kFirstDigit;
    if (op == kTimes) {
      product = product * number % kModulus;
    } else {
      total = (total + sign * product) % kModulus;
      product = number;
      sign = op == kMinus ? -1 : 1;
    }
  }
  total = (total + sign * product) % kModulus;
  return (total + kModulus) % kModulus;  // mathematical (non-negative) modulo
}

std::vector<int64_t> ModularArithmeticTask::sequence(Split split, uint64_t index) const {
  ExampleRng rng(options_.seed, split, index);
  const LengthRange range = split == Split::train
                                ? curriculum_range(options_.train_lengths, index, options_.curriculum_examples,
                                                   options_.curriculum_start)
                                : options_.eval_lengths;
  const int64_t n_max = (range.max + 1) / 2, n_min = std::min((range.min + 1) / 2, n_max);
  const int64_t length = 2 * rng.integer(n_min, n_max) - 1;
  std::vector<int64_t> seq(static_cast<size_t>(length));
  for (int64_t i = 0; i + 2 < length; ++i)
    seq[size_t(i)] = i % 2 == 0 ? rng.integer(kFirstDigit, kFirstDigit + kModulus - 1) : rng.integer(kPlus, kTimes);
  seq[size_t(length - 2)] = kEquals;
  seq[size_t(length - 1)] =
      kFirstDigit + evaluate(std::vector<int64_t>(seq.begin(), seq.begin() + (length - 2)));
  return seq;
}

Example ModularArithmeticTask::example(Split split, uint64_t index) const {
  const std::vector<int64_t> seq = sequence(split, index);
  return form_answer_example(seq, int64_t(seq.size()) - 1);
}

}  // namespace hqlt::train
