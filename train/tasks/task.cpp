#include "train/tasks/task.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/rng.h"

namespace hqlt::train {

std::string split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::validation: return "validation";
    case Split::test: return "test";
  }
  return "?";
}

Batch Task::batch(Split split, uint64_t first_index, int64_t batch_size) const {
  HQLT_CHECK(batch_size > 0, name(), ": batch size must be positive, got ", batch_size);
  std::vector<Example> examples;
  examples.reserve(size_t(batch_size));
  for (int64_t b = 0; b < batch_size; ++b) examples.push_back(example(split, first_index + uint64_t(b)));
  return collate(examples);
}

Batch collate(const std::vector<Example>& examples) {
  HQLT_CHECK(!examples.empty(), "collate: no examples");
  int64_t longest = 0;
  Batch batch;
  for (const Example& e : examples) {
    HQLT_CHECK(e.input.size() == e.target.size(), "collate: input length ", e.input.size(),
               " differs from target length ", e.target.size());
    batch.lengths.push_back(int64_t(e.input.size()));
    longest = std::max(longest, int64_t(e.input.size()));
  }
  HQLT_CHECK(longest > 0, "collate: every example is empty");
  const int64_t rows = int64_t(examples.size());
  batch.input_ids = full({rows, longest}, double(kPad), DType::i64);
  batch.targets = full({rows, longest}, double(kIgnore), DType::i64);
  int64_t* in = batch.input_ids.data<int64_t>();
  int64_t* tg = batch.targets.data<int64_t>();
  for (int64_t b = 0; b < rows; ++b) {
    std::copy(examples[b].input.begin(), examples[b].input.end(), in + b * longest);
    std::copy(examples[b].target.begin(), examples[b].target.end(), tg + b * longest);
  }
  return batch;
}

namespace {
// splitmix64: spreads (seed, split) into a Philox key so nearby seeds give unrelated streams.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
constexpr uint64_t kBlocksPerExample = uint64_t(1) << 20;
}  // namespace

ExampleRng::ExampleRng(uint64_t seed, Split split, uint64_t index)
    : key_(mix(mix(seed) ^ (uint64_t(split) + 1))), offset_(index * kBlocksPerExample) {}

double ExampleRng::uniform() {
  HQLT_CHECK(draws_ < 2 * kBlocksPerExample, "ExampleRng: an example drew more than ",
             2 * kBlocksPerExample, " random numbers");
  return uniform_at(key_, offset_, draws_++);
}

int64_t ExampleRng::integer(int64_t low, int64_t high) {
  HQLT_CHECK(low <= high, "ExampleRng::integer: empty range [", low, ", ", high, "]");
  const int64_t span = high - low + 1;
  return low + std::min(span - 1, int64_t(std::floor(uniform() * double(span))));
}

Example form_answer_example(const std::vector<int64_t>& seq, int64_t answer_position) {
  HQLT_CHECK(answer_position >= 1 && answer_position < int64_t(seq.size()),
             "form_answer_example: answer position ", answer_position, " outside [1, ", seq.size(), ")");
  Example e;
  e.input.assign(seq.begin(), seq.begin() + answer_position);  // the answer itself is never input
  e.target.assign(size_t(answer_position), kIgnore);
  e.target[size_t(answer_position - 1)] = seq[size_t(answer_position)];
  return e;
}

Accuracy supervised_accuracy(const Tensor& predictions, const Tensor& targets) {
  HQLT_CHECK(predictions.dim() == 2 && predictions.shape() == targets.shape(),
             "supervised_accuracy: expected predictions and targets of the same [B, T] shape");
  HQLT_CHECK(predictions.dtype() == DType::i64 && targets.dtype() == DType::i64,
             "supervised_accuracy: expected i64 predictions and targets");
  const Tensor p = predictions.contiguous(), t = targets.contiguous();
  const int64_t rows = p.size(0), cols = p.size(1);
  const int64_t* pp = p.data<int64_t>();
  const int64_t* tp = t.data<int64_t>();
  Accuracy acc;
  acc.sequences = rows;
  for (int64_t b = 0; b < rows; ++b) {
    bool all = true;
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t target = tp[b * cols + j];
      if (target == kIgnore) continue;
      ++acc.supervised;
      if (pp[b * cols + j] == target) ++acc.correct;
      else all = false;
    }
    if (all) ++acc.sequences_all_correct;
  }
  return acc;
}

}  // namespace hqlt::train
