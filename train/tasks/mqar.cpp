#include "train/tasks/mqar.h"

#include <numeric>
#include <utility>

#include "engine/error.h"

namespace hqlt::train {

namespace {
void check_setting(int64_t vocab, int64_t pairs, int64_t length, const char* which) {
  const int64_t keys = mqar_key_count(vocab);
  HQLT_CHECK(pairs >= 1 && pairs <= keys, "mqar: ", which, " pairs must be in [1, ", keys,
             "] (the keys of vocab ", vocab, "), got ", pairs);
  HQLT_CHECK(length >= 4 * pairs, "mqar: ", which, " length must be >= 4 * pairs = ", 4 * pairs, ", got ",
             length);
}

// The first `count` entries of a uniformly shuffled `items` (partial Fisher–Yates).
std::vector<int64_t> draw_without_replacement(std::vector<int64_t> items, int64_t count, ExampleRng& rng) {
  for (int64_t i = 0; i < count; ++i) std::swap(items[size_t(i)], items[size_t(rng.integer(i, int64_t(items.size()) - 1))]);
  items.resize(size_t(count));
  return items;
}

std::vector<int64_t> iota_from(int64_t first, int64_t count) {
  std::vector<int64_t> v(static_cast<size_t>(count));
  std::iota(v.begin(), v.end(), first);
  return v;
}
}  // namespace

MqarTask::MqarTask(const MqarOptions& o) : options_(o) {
  HQLT_CHECK(o.vocab_size >= 4 && o.vocab_size % 2 == 0, "mqar: vocab size must be even and >= 4, got ",
             o.vocab_size);
  HQLT_CHECK(o.train_pairs_min <= o.train_pairs_max, "mqar: train pairs range [", o.train_pairs_min, ", ",
             o.train_pairs_max, "] is empty");
  check_setting(o.vocab_size, o.train_pairs_min, o.train_length, "train");
  check_setting(o.vocab_size, o.train_pairs_max, o.train_length, "train");
  check_setting(o.vocab_size, o.eval_pairs, o.eval_length, "eval");
}

Example MqarTask::example(Split split, uint64_t index) const {
  ExampleRng rng(options_.seed, split, index);
  const bool train = split == Split::train;
  const int64_t pairs = train ? rng.integer(options_.train_pairs_min, options_.train_pairs_max) : options_.eval_pairs;
  const int64_t length = train ? options_.train_length : options_.eval_length;
  const int64_t half = options_.vocab_size / 2;

  const std::vector<int64_t> keys = draw_without_replacement(iota_from(1, half - 1), pairs, rng);
  std::vector<int64_t> value_of(size_t(half), 0);
  Example e;
  e.input.assign(size_t(length), kPad);
  e.target.assign(size_t(length), kIgnore);
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t value = rng.integer(half, options_.vocab_size - 1);
    value_of[size_t(keys[size_t(p)])] = value;
    e.input[size_t(2 * p)] = keys[size_t(p)];
    e.input[size_t(2 * p + 1)] = value;
  }
  const std::vector<int64_t> query_order = draw_without_replacement(keys, pairs, rng);
  const std::vector<int64_t> slots = draw_without_replacement(iota_from(0, (length - 2 * pairs) / 2), pairs, rng);
  for (int64_t q = 0; q < pairs; ++q) {
    const size_t at = size_t(2 * pairs + 2 * slots[size_t(q)]);
    const int64_t key = query_order[size_t(q)];
    e.input[at] = key;
    e.input[at + 1] = value_of[size_t(key)];
    e.target[at] = value_of[size_t(key)];
  }
  return e;
}

}  // namespace hqlt::train
