// Evaluation: the length buckets, argmax, per-row scoring, and that sorting examples by
// length before batching changes no result (a causal model's outputs do not depend on
// padding after them).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "engine/rng.h"
#include "train/evaluate.h"
#include "train/model_names.h"
#include "train/tasks/parity.h"

using namespace hqlt;
using namespace hqlt::train;

TEST_SUITE("unit") {
  TEST_CASE("length buckets are aligned to 32 and cover the range exactly") {
    const std::vector<LengthBucket> b = length_buckets(40, 256);
    REQUIRE(b.size() == 7);
    CHECK(b[0].length_min == 40);
    CHECK(b[0].length_max == 63);
    CHECK(b[1].length_min == 64);
    CHECK(b[1].length_max == 95);
    CHECK(b[5].length_min == 192);
    CHECK(b[6].length_min == 224);
    CHECK(b[6].length_max == 256);  // the lone 256 joins the bucket before
    for (size_t i = 1; i < b.size(); ++i) CHECK(b[i].length_min == b[i - 1].length_max + 1);
    const std::vector<LengthBucket> one = length_buckets(3, 40);
    REQUIRE(one.size() == 1);
    CHECK(one[0].length_min == 3);
    CHECK(one[0].length_max == 40);
    CHECK_THROWS_AS(length_buckets(5, 4), Error);
  }

  TEST_CASE("argmax takes the first maximum and scoring counts supervised positions per row") {
    Tensor logits = from_vector({0, 2, 2, /**/ 5, 1, 0, /**/ 1, 1, 3, /**/ 0, 0, 0}, {2, 2, 3});
    const Tensor am = argmax_last(logits);
    CHECK(std::vector<int64_t>(am.data<int64_t>(), am.data<int64_t>() + 4) == std::vector<int64_t>{1, 0, 2, 0});
    const Tensor targets = from_vector({1, double(kIgnore), 2, 1}, {2, 2}, DType::i64);
    const BatchScore s = score_batch(logits, targets);
    CHECK(s.correct == std::vector<int64_t>{1, 1});  // row 1: id 2 right, then 0 for 1 wrong
    CHECK(s.supervised == std::vector<int64_t>{1, 2});
    const Accuracy a = s.total();
    CHECK(a.correct == 2);
    CHECK(a.supervised == 3);
    CHECK(a.sequences_all_correct == 1);
    CHECK(a.sequences == 2);
  }

  TEST_CASE("argmax of a row holding NaN is its first NaN as max picks it") {
    Tensor logits = from_vector({1, NAN, 3, NAN, /**/ NAN, 0, 0, 0, /**/ -INFINITY, -INFINITY, -2, -2}, {3, 4});
    const Tensor am = argmax_last(logits);
    CHECK(std::vector<int64_t>(am.data<int64_t>(), am.data<int64_t>() + 3) == std::vector<int64_t>{1, 0, 2});
  }

  TEST_CASE("evaluation gives the same counts whatever the batch size") {
    Generator gen{5, 0};
    models::CausalLM model(named_model_config("sync_hqlt", 3, ModelShape{16, 1, 2}), gen);
    ParityTask task(ParityOptions{.seed = 3});
    const EvalResult one = evaluate(model, task, Split::test, 40, 1);
    const EvalResult many = evaluate(model, task, Split::test, 40, 16);
    CHECK(one.accuracy.sequences == 40);
    CHECK(one.accuracy.supervised == 40);  // one answer per parity example
    CHECK(one.accuracy.correct == many.accuracy.correct);
    CHECK(one.loss == doctest::Approx(many.loss).epsilon(1e-5));
    int64_t counted = 0;
    for (size_t i = 0; i < one.buckets.size(); ++i) {
      CHECK(one.buckets[i].correct == many.buckets[i].correct);
      counted += one.buckets[i].sequences;
    }
    CHECK(counted == 40);
    // Every example's L lies in its bucket: recount from the generator.
    std::vector<int64_t> per_bucket(one.buckets.size(), 0);
    for (uint64_t i = 0; i < 40; ++i) {
      const int64_t L = task.length_of(task.example(Split::test, i));
      for (size_t b = 0; b < one.buckets.size(); ++b)
        if (L >= one.buckets[b].length_min && L <= one.buckets[b].length_max) per_bucket[b] += 1;
    }
    for (size_t b = 0; b < one.buckets.size(); ++b) CHECK(per_bucket[b] == one.buckets[b].sequences);
  }

  TEST_CASE("evaluation of a later range of examples adds up with the range before it to the whole") {
    Generator gen{5, 0};
    models::CausalLM model(named_model_config("sync_hqlt", 3, ModelShape{16, 1, 2}), gen);
    ParityTask task(ParityOptions{.seed = 3});
    const EvalResult head = evaluate(model, task, Split::validation, 24, 8);
    const EvalResult tail = evaluate(model, task, Split::validation, 40, 8, /*first=*/24);
    const EvalResult whole = evaluate(model, task, Split::validation, 64, 8);
    CHECK(tail.accuracy.sequences == 40);
    CHECK(head.accuracy.correct + tail.accuracy.correct == whole.accuracy.correct);
    CHECK(head.accuracy.supervised + tail.accuracy.supervised == whole.accuracy.supervised);
    CHECK(head.tokens + tail.tokens == whole.tokens);
    const double summed = head.loss * double(head.accuracy.supervised) + tail.loss * double(tail.accuracy.supervised);
    CHECK(summed == doctest::Approx(whole.loss * double(whole.accuracy.supervised)).epsilon(1e-5));
    // The range is the examples themselves: the tail's lengths are those of examples 24..63.
    int64_t tokens = 0;
    for (uint64_t i = 24; i < 64; ++i) tokens += int64_t(task.example(Split::validation, i).input.size());
    CHECK(tail.tokens == tokens);
    CHECK_THROWS_WITH_AS(evaluate(model, task, Split::validation, 4, 8, -1), doctest::Contains("first example"), Error);
  }

  TEST_CASE("the worst bucket is the lowest accuracy of a bucket that holds examples") {
    EvalResult r;
    r.accuracy.correct = 7;
    r.accuracy.supervised = 10;
    CHECK(worst_bucket_accuracy(r) == 0.7);  // no buckets: the overall accuracy
    r.buckets = {LengthBucket{40, 63, 3, 4, 4}, LengthBucket{64, 95, 0, 0, 0}, LengthBucket{96, 127, 4, 6, 6}};
    CHECK(worst_bucket_accuracy(r) == doctest::Approx(4.0 / 6.0));  // the empty bucket does not count
    r.buckets[0].correct = 2;
    CHECK(worst_bucket_accuracy(r) == 0.5);
  }
}
