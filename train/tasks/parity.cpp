#include "train/tasks/parity.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace hqlt::train {

LengthRange curriculum_range(const LengthRange& range, uint64_t index, uint64_t ramp_examples, int64_t start) {
  if (ramp_examples == 0 || index >= ramp_examples) return range;
  const int64_t first = std::clamp(start > 0 ? start : range.min, range.min, range.max);
  const double done = double(index + 1) / double(ramp_examples);
  const int64_t cap = first + int64_t(std::ceil(done * double(range.max - first)));
  return {range.min, std::min(cap, range.max)};
}

ParityTask::ParityTask(const ParityOptions& options) : options_(options) {
  for (const LengthRange& r : {options.train_lengths, options.eval_lengths}) {
    // L = 2 is the shortest sample with an input (one bit); 256 is the paper's context.
    HQLT_CHECK(r.min >= 2 && r.min <= r.max && r.max <= 256, "parity: length range [", r.min, ", ", r.max,
               "] must satisfy 2 <= min <= max <= 256");
  }
}

std::vector<int64_t> ParityTask::sequence(Split split, uint64_t index) const {
  ExampleRng rng(options_.seed, split, index);
  const LengthRange range = split == Split::train
                                ? curriculum_range(options_.train_lengths, index, options_.curriculum_examples,
                                                   options_.curriculum_start)
                                : options_.eval_lengths;
  const int64_t length = rng.integer(range.min, range.max);
  std::vector<int64_t> seq(static_cast<size_t>(length));
  int64_t ones = 0;
  for (int64_t i = 0; i + 1 < length; ++i) {
    seq[size_t(i)] = rng.integer(1, 2);
    ones += seq[size_t(i)] == 2;
  }
  seq[size_t(length - 1)] = ones % 2 + 1;
  return seq;
}

Example ParityTask::example(Split split, uint64_t index) const {
  const std::vector<int64_t> seq = sequence(split, index);
  return form_answer_example(seq, int64_t(seq.size()) - 1);
}

}  // namespace hqlt::train
