#pragma once
// Evaluation of a model on a task split: loss, accuracy at the supervised positions
// (docs/math/tasks.md §A.8: argmax over all vocab logits equals the target), and the same accuracy
// per length bucket (the paper's length-generalisation readout, e.g. parity at L = 40..256).
//
// The examples are sorted by length and batched with their neighbours, so each batch pads to
// nearly its own length: for a causal model the result is the same as batching them in index
// order (task.h), only cheaper. Runs under NoGrad.
#include <cstdint>
#include <vector>

#include "models/causal_lm.h"
#include "train/tasks/task.h"

namespace hqlt::train {

struct LengthBucket {
  int64_t length_min = 0, length_max = 0;  // inclusive, in Task::length_of units
  int64_t correct = 0, supervised = 0;     // supervised positions in this bucket
  int64_t sequences = 0;
  double accuracy() const { return supervised ? double(correct) / double(supervised) : 0.0; }
};

struct EvalResult {
  double loss = 0;          // mean cross-entropy over every supervised position (nats)
  Accuracy accuracy;        // over the whole split
  std::vector<LengthBucket> buckets;
  int64_t tokens = 0;       // input tokens read (unpadded)
};

// Bucket edges for lengths min..max: one bucket when the span is short (< 64), otherwise
// buckets aligned to multiples of 32 ([40,63], [64,95], ..., [224,256]); a last bucket of
// fewer than 8 lengths is merged into the one before.
std::vector<LengthBucket> length_buckets(int64_t length_min, int64_t length_max);

// The index of the largest value along the last dim: [.., V] float -> [..] i64 on the host
// (ties: the lowest index, as torch.argmax; a row holding NaN: its first NaN, as max()).
// Logits on cuda are reduced there; only the indices are copied back.
Tensor argmax_last(const Tensor& logits);

// Per-row accuracy counts of one batch: logits [B, T, V] against targets [B, T] (kIgnore
// where unsupervised). correct[b] / supervised[b] count row b's supervised positions.
struct BatchScore {
  std::vector<int64_t> correct, supervised;
  Accuracy total() const;
};
BatchScore score_batch(const Tensor& logits, const Tensor& targets);

// Examples first .. first+count−1 of `split`, in batches of up to batch_size, bucketed by
// length. (A later range of the validation split is the trainer's confirmation set.)
EvalResult evaluate(const models::CausalLM& model, const Task& task, Split split, int64_t count,
                    int64_t batch_size, int64_t first = 0);

// The lowest accuracy of a bucket that holds examples (the overall accuracy when none does):
// the score a run is judged by when it must generalise to every length.
double worst_bucket_accuracy(const EvalResult& result);

}  // namespace hqlt::train
