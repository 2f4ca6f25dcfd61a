#pragma once
// The data side of training: a Task turns (split, example index) into one model example,
// and cuts batches of consecutive examples.
//
// An example is a pair of equally long token rows: `input` (what the causal model reads)
// and `target` (the token it must predict at each position, or kIgnore = −1 where nothing
// is supervised). Example i of a split is a pure function of (seed, split, i): its random
// numbers come from the counter-based Philox stream (engine/rng.h) at a counter range
// reserved for that index, so batches are reproducible and independent of batch size.
//
// Batches: Batch.input_ids and Batch.targets are [B, T] i64 with T the longest example in
// the batch, shorter rows padded with input 0 (PAD) and target −1. For the synthetic tasks
// the paper pads every row to 255 (docs/math/tasks.md §A.5); a causal model's outputs at positions
// ≤ j do not depend on the tokens after j, so cutting the padding tail changes nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::train {

inline constexpr int64_t kIgnore = -1;  // target of an unsupervised position (docs/math/tasks.md §A.5)
inline constexpr int64_t kPad = 0;      // input token of padding positions

enum class Split { train, validation, test };
std::string split_name(Split split);

struct Example {
  std::vector<int64_t> input;   // [T_i]
  std::vector<int64_t> target;  // [T_i], kIgnore where not supervised
};

struct Batch {
  Tensor input_ids;              // [B, T] i64
  Tensor targets;                // [B, T] i64, kIgnore where not supervised
  std::vector<int64_t> lengths;  // [B]: the unpadded length of each row
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int64_t vocab_size() const = 0;
  // Example `index` of `split`; the same (seed, split, index) always gives the same example.
  virtual Example example(Split split, uint64_t index) const = 0;
  // The length an example is reported under (accuracy by length): its input length, or for
  // the answer tasks L = the number of tokens up to and including the answer (§A.1).
  virtual int64_t length_of(const Example& e) const { return int64_t(e.input.size()); }
  // Whether the task is judged by its answers (parity, modular arithmetic, recall: a few
  // supervised tokens per sequence, each right or wrong) rather than by its loss (text).
  // It decides what `--test-on best` keeps: the validation step of the highest accuracy,
  // or of the lowest loss.
  virtual bool judged_by_answers() const { return false; }

  // Examples first_index .. first_index + batch_size − 1, padded to the longest of them.
  Batch batch(Split split, uint64_t first_index, int64_t batch_size) const;
};

// Stacks examples into a Batch padded to the longest one.
Batch collate(const std::vector<Example>& examples);

// Per-example random numbers: draw k of example `index` is Philox uniform number k at a
// counter range of 2^20 blocks (2^21 draws) reserved for that index, under a key mixed from
// (seed, split). Draws past the range are refused rather than overlapping the next example.
class ExampleRng {
 public:
  ExampleRng(uint64_t seed, Split split, uint64_t index);
  double uniform();                          // in [0, 1)
  int64_t integer(int64_t low, int64_t high);  // uniform in [low, high], inclusive

 private:
  uint64_t key_;
  uint64_t offset_;
  uint64_t draws_ = 0;
};

// docs/math/tasks.md §A.5: (seq, answer position a) → input = seq[0 .. L−2] with the answer
// replaced by PAD, target = −1 except target[a − 1] = seq[a]. Returned rows have length
// a (= L − 1); the PAD tail up to 255 is left to collate (see the header note).
Example form_answer_example(const std::vector<int64_t>& seq, int64_t answer_position);

// Accuracy at supervised positions: predictions and targets are [B, T] i64 (argmax ids).
struct Accuracy {
  int64_t correct = 0;          // supervised positions predicted exactly
  int64_t supervised = 0;       // positions with target ≠ −1
  int64_t sequences_all_correct = 0;  // rows whose every supervised position is right
  int64_t sequences = 0;        // rows
  double token_accuracy() const { return supervised ? double(correct) / double(supervised) : 0.0; }
  double sequence_accuracy() const { return sequences ? double(sequences_all_correct) / double(sequences) : 0.0; }
};
Accuracy supervised_accuracy(const Tensor& predictions, const Tensor& targets);

}  // namespace hqlt::train
