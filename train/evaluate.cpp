#include "train/evaluate.h"

#include <algorithm>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/loss/cross_entropy.h"
#include "ops/reduce/reduce_math.h"

#ifdef HQLT_HAS_CUDA
#include "ops/reduce/reduce_cuda.h"
#endif

namespace hqlt::train {

std::vector<LengthBucket> length_buckets(int64_t length_min, int64_t length_max) {
  HQLT_CHECK(length_min <= length_max, "length_buckets: empty range [", length_min, ", ", length_max, "]");
  std::vector<LengthBucket> buckets;
  if (length_max - length_min + 1 < 64) return {LengthBucket{length_min, length_max}};
  constexpr int64_t kWidth = 32;
  int64_t start = length_min;
  while (start <= length_max) {
    const int64_t end = std::min(length_max, (start / kWidth + 1) * kWidth - 1);
    buckets.push_back(LengthBucket{start, end});
    start = end + 1;
  }
  if (buckets.size() > 1 && buckets.back().length_max - buckets.back().length_min + 1 < 8) {
    buckets[buckets.size() - 2].length_max = buckets.back().length_max;
    buckets.pop_back();
  }
  return buckets;
}

namespace {

// The first NaN of each row if it has one, else the first position of its largest value:
// max()'s rule (reduce_math.h's ArgMaxOp), walked in order, so both devices agree.
template <typename T>
void argmax_rows(const T* x, int64_t rows, int64_t v, int64_t* out) {
  const detail::reduce_math::ArgMaxOp better;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * v;
    detail::reduce_math::ArgMax<T> best{row[0], 0};
    for (int64_t j = 1; j < v; ++j) best = better(best, detail::reduce_math::ArgMax<T>{row[j], j});
    out[r] = best.j;
  }
}

}  // namespace

Tensor argmax_last(const Tensor& logits) {
  HQLT_CHECK(logits.dim() >= 1 && logits.size(-1) > 0, "argmax_last: expected [.., V] with V > 0");
  HQLT_CHECK(logits.dtype() == DType::f32 || logits.dtype() == DType::f64,
             "argmax_last: expected f32 or f64 logits, got ", dtype_name(logits.dtype()));
  Tensor x = logits.detach().contiguous();
  const int64_t v = x.size(-1), rows = x.numel() / v;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
#ifdef HQLT_HAS_CUDA
  if (x.device() == Device::cuda) {
    // The positions come back to the host, not the [rows, V] logits.
    Tensor values = empty({rows}, x.dtype(), Device::cuda), where = empty({rows}, DType::i64, Device::cuda);
    detail::reduce_max_cuda(values, where, x.reshape({rows, v}));
    return where.to(Device::cpu).reshape(out_shape);
  }
#endif
  Tensor out = empty(out_shape, DType::i64);
  dispatch_float(x.dtype(), "argmax_last", [&]<typename T>() { argmax_rows(x.data<T>(), rows, v, out.data<int64_t>()); });
  return out;
}

Accuracy BatchScore::total() const {
  Accuracy a;
  for (size_t b = 0; b < correct.size(); ++b) {
    a.correct += correct[b];
    a.supervised += supervised[b];
    a.sequences_all_correct += correct[b] == supervised[b];
    a.sequences += 1;
  }
  return a;
}

BatchScore score_batch(const Tensor& logits, const Tensor& targets) {
  HQLT_CHECK(logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) &&
                 logits.size(1) == targets.size(1),
             "score_batch: expected logits [B, T, V] and targets [B, T]");
  const Tensor predictions = argmax_last(logits);
  const Tensor t = targets.contiguous();
  const int64_t rows = t.size(0), cols = t.size(1);
  const int64_t* p = predictions.data<int64_t>();
  const int64_t* y = t.data<int64_t>();
  BatchScore s;
  s.correct.assign(size_t(rows), 0);
  s.supervised.assign(size_t(rows), 0);
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t target = y[b * cols + j];
      if (target == kIgnore) continue;
      s.supervised[b] += 1;
      s.correct[b] += p[b * cols + j] == target;
    }
  return s;
}

EvalResult evaluate(const models::CausalLM& model, const Task& task, Split split, int64_t count,
                    int64_t batch_size, int64_t first) {
  HQLT_CHECK(count > 0, "evaluate: need at least one example, got ", count);
  HQLT_CHECK(first >= 0, "evaluate: the first example must be >= 0, got ", first);
  HQLT_CHECK(batch_size > 0, "evaluate: batch size must be positive, got ", batch_size);
  NoGrad no_grad;
  std::vector<Example> examples;
  examples.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) examples.push_back(task.example(split, uint64_t(first + i)));
  std::vector<int64_t> lengths(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) lengths[i] = task.length_of(examples[i]);
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });

  EvalResult result;
  result.buckets = length_buckets(lengths[order.front()], lengths[order.back()]);
  const int64_t vocab = task.vocab_size();
  double loss_sum = 0;
  const Device device = model.device();
  for (size_t first = 0; first < order.size(); first += size_t(batch_size)) {
    const size_t last = std::min(order.size(), first + size_t(batch_size));
    std::vector<Example> rows;
    for (size_t i = first; i < last; ++i) rows.push_back(std::move(examples[order[i]]));
    const Batch batch = collate(rows);
    const Tensor logits = model.forward(batch.input_ids.to(device));
    const BatchScore score = score_batch(logits, batch.targets);
    const Accuracy acc = score.total();
    if (acc.supervised > 0) {
      const Tensor loss =
          cross_entropy(logits.reshape({-1, vocab}), batch.targets.to(device).reshape({-1}), kIgnore);
      loss_sum += loss.item() * double(acc.supervised);
    }
    result.accuracy.correct += acc.correct;
    result.accuracy.supervised += acc.supervised;
    result.accuracy.sequences_all_correct += acc.sequences_all_correct;
    result.accuracy.sequences += acc.sequences;
    for (size_t r = 0; r < rows.size(); ++r) {
      const int64_t length = lengths[order[first + r]];
      result.tokens += batch.lengths[r];
      for (LengthBucket& bucket : result.buckets)
        if (length >= bucket.length_min && length <= bucket.length_max) {
          bucket.correct += score.correct[r];
          bucket.supervised += score.supervised[r];
          bucket.sequences += 1;
        }
    }
  }
  result.loss = result.accuracy.supervised ? loss_sum / double(result.accuracy.supervised) : 0.0;
  return result;
}

double worst_bucket_accuracy(const EvalResult& result) {
  double worst = 2;
  for (const LengthBucket& b : result.buckets)
    if (b.supervised > 0) worst = std::min(worst, b.accuracy());
  return worst <= 1 ? worst : result.accuracy.token_accuracy();
}

}  // namespace hqlt::train
