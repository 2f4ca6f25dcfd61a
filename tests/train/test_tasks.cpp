// The training tasks (train/tasks): hand-checked samples, labels recomputed independently
// over many samples, length ranges per split, supervision masks, determinism, MQAR query
// positions, text and token-file windows and splits, and one clear error per bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "train/tasks/modular_arithmetic.h"
#include "train/tasks/mqar.h"
#include "train/tasks/parity.h"
#include "train/tasks/registry.h"
#include "train/tasks/text.h"
#include "train/tasks/tokens.h"

using namespace hqlt;
using namespace hqlt::train;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope end.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    path = fs::temp_directory_path() / ("hqlt_test_tasks_" + std::to_string(std::rand()) + "_" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void append_le(std::vector<unsigned char>& out, uint32_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out.push_back(static_cast<unsigned char>(v >> (8 * b)));
}

int64_t count_supervised(const Example& e) {
  int64_t n = 0;
  for (int64_t t : e.target) n += t != kIgnore;
  return n;
}

// Parity answer from the bits alone: 1 for an even number of 1-bits (token 2), else 2.
int64_t parity_answer(const std::vector<int64_t>& bits) {
  bool odd = false;
  for (int64_t b : bits) odd ^= (b == 2);
  return odd ? 2 : 1;
}

// Modular-arithmetic answer token, computed differently from the task: split the expression
// into ±-separated terms, multiply each term out mod 5, then add the signed terms.
int64_t modular_answer(const std::vector<int64_t>& expr) {
  std::vector<std::pair<int, std::vector<int64_t>>> terms{{+1, {expr[0] - 5}}};
  for (size_t i = 1; i + 1 < expr.size(); i += 2) {
    if (expr[i] == 3) terms.back().second.push_back(expr[i + 1] - 5);
    else terms.push_back({expr[i] == 2 ? -1 : +1, {expr[i + 1] - 5}});
  }
  int64_t sum = 0;
  for (const auto& [sign, factors] : terms) {
    int64_t product = 1;
    for (int64_t f : factors) product = product * f % 5;
    sum += sign * product;
  }
  return ((sum % 5) + 5) % 5 + 5;
}

}  // namespace

TEST_SUITE("unit") {

TEST_CASE("tasks parity hand-checked example") {
  // docs/math/tasks.md §A.2, L = 29: eleven 1-bits (token 2) -> odd -> answer 2.
  const std::vector<int64_t> bits = {2, 2, 1, 2, 1, 2, 2, 1, 2, 1, 1, 1, 2, 1,
                                     1, 1, 1, 1, 1, 2, 1, 2, 2, 1, 1, 1, 1, 2};
  std::vector<int64_t> seq = bits;
  seq.push_back(2);
  const Example e = form_answer_example(seq, 28);
  CHECK(e.input == bits);
  REQUIRE(e.target.size() == 28);
  CHECK(e.target[27] == 2);
  CHECK(count_supervised(e) == 1);
  // Three 1-bits (odd) and two (even).
  CHECK(parity_answer({2, 1, 2, 2}) == 2);
  CHECK(parity_answer({2, 1, 1, 2}) == 1);
}

TEST_CASE("tasks parity labels lengths and masks") {
  ParityTask task(ParityOptions{.seed = 7});
  CHECK(task.vocab_size() == 3);
  for (Split split : {Split::train, Split::validation, Split::test}) {
    CAPTURE(split_name(split));
    const bool train = split == Split::train;
    const int64_t lo = train ? 3 : 40, hi = train ? 40 : 256;
    std::set<int64_t> lengths;
    for (uint64_t i = 0; i < 3000; ++i) {
      CAPTURE(i);
      const Example e = task.example(split, i);
      const int64_t L = int64_t(e.input.size()) + 1;
      lengths.insert(L);
      REQUIRE(L >= lo);
      REQUIRE(L <= hi);
      REQUIRE(count_supervised(e) == 1);
      REQUIRE(e.target[size_t(L - 2)] == parity_answer(e.input));
      for (int64_t b : e.input) REQUIRE((b == 1 || b == 2));
    }
    // Every length of the range occurs (both ends included).
    CHECK(*lengths.begin() == lo);
    CHECK(*lengths.rbegin() == hi);
    CHECK(int64_t(lengths.size()) == hi - lo + 1);
  }
}

TEST_CASE("tasks length curriculum grows the longest training length linearly") {
  const LengthRange full{3, 40};
  // Hand-computed caps: 3 + ceil((i + 1) / 100 · 37) over a ramp of 100 examples.
  CHECK(curriculum_range(full, 0, 100).max == 4);    // ceil(0.37) = 1
  CHECK(curriculum_range(full, 49, 100).max == 22);  // ceil(18.5) = 19
  CHECK(curriculum_range(full, 98, 100).max == 40);  // ceil(36.63) = 37
  CHECK(curriculum_range(full, 99, 100).max == 40);
  CHECK(curriculum_range(full, 5000, 100).max == 40);
  CHECK(curriculum_range(full, 7, 0).max == 40);  // no curriculum
  CHECK(curriculum_range(full, 0, 100).min == 3);
  // Starting from a longer cap: 16 + ceil((i + 1) / 100 · 24).
  CHECK(curriculum_range(full, 0, 100, 16).max == 17);
  CHECK(curriculum_range(full, 49, 100, 16).max == 28);
  CHECK(curriculum_range(full, 49, 100, 16).min == 3);
  CHECK(curriculum_range(full, 0, 100, 99).max == 40);  // a start past the range is clamped

  // Through the tasks: early examples are short, later ones span the whole range, and
  // validation/test are untouched.
  ParityTask parity(ParityOptions{.seed = 7, .curriculum_examples = 1000});
  ModularArithmeticTask arithmetic(ModularArithmeticOptions{.seed = 7, .curriculum_examples = 1000});
  ParityTask plain(ParityOptions{.seed = 7});
  int64_t longest_late = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    CAPTURE(i);
    const int64_t cap = curriculum_range(full, i, 1000).max;
    CHECK(parity.length_of(parity.example(Split::train, i)) <= cap);
    CHECK(arithmetic.length_of(arithmetic.example(Split::train, i)) <= cap);
    CHECK(parity.example(Split::validation, i).input == plain.example(Split::validation, i).input);
    longest_late = std::max(longest_late, parity.length_of(parity.example(Split::train, 2000 + i)));
  }
  CHECK(longest_late > 30);
  // A curriculum example is a pure function of its index (resume draws the same data).
  CHECK(parity.example(Split::train, 42).input ==
        ParityTask(ParityOptions{.seed = 7, .curriculum_examples = 1000}).example(Split::train, 42).input);
}

TEST_CASE("tasks modular arithmetic hand-checked examples") {
  // docs/math/tasks.md §A.3: 4 + 3 + 2 − 4 − 0 = 5 -> 0.
  CHECK(ModularArithmeticTask::evaluate({9, 1, 8, 1, 7, 2, 9, 2, 5}) == 0);
  CHECK(ModularArithmeticTask::evaluate({6, 1, 7, 3, 8}) == 2);          // 1 + 2·3 = 7
  CHECK(ModularArithmeticTask::evaluate({5, 2, 6, 3, 9}) == 1);          // 0 − 1·4 = −4
  CHECK(ModularArithmeticTask::evaluate({7, 3, 8, 2, 9, 3, 9, 1, 6}) == 1);  // 2·3 − 4·4 + 1 = −9
  CHECK(ModularArithmeticTask::evaluate({8}) == 3);
  const Example e = form_answer_example({9, 1, 8, 1, 7, 2, 9, 2, 5, 4, 5}, 10);
  CHECK(e.input == std::vector<int64_t>{9, 1, 8, 1, 7, 2, 9, 2, 5, 4});
  CHECK(e.target == std::vector<int64_t>{-1, -1, -1, -1, -1, -1, -1, -1, -1, 5});
}

TEST_CASE("tasks modular arithmetic labels lengths and masks") {
  ModularArithmeticTask task(ModularArithmeticOptions{.seed = 3});
  CHECK(task.vocab_size() == 10);
  for (Split split : {Split::train, Split::validation}) {
    CAPTURE(split_name(split));
    const bool train = split == Split::train;
    const int64_t lo = train ? 3 : 39, hi = train ? 39 : 255;
    std::set<int64_t> lengths;
    for (uint64_t i = 0; i < 3000; ++i) {
      CAPTURE(i);
      const Example e = task.example(split, i);
      const int64_t L = int64_t(e.input.size()) + 1;
      lengths.insert(L);
      REQUIRE(L % 2 == 1);
      REQUIRE(L >= lo);
      REQUIRE(L <= hi);
      REQUIRE(count_supervised(e) == 1);
      REQUIRE(e.input.back() == 4);  // the supervised position holds '='
      for (int64_t j = 0; j + 1 < int64_t(e.input.size()); ++j) {
        if (j % 2 == 0) REQUIRE((e.input[size_t(j)] >= 5 && e.input[size_t(j)] <= 9));
        else REQUIRE((e.input[size_t(j)] >= 1 && e.input[size_t(j)] <= 3));
      }
      const std::vector<int64_t> expr(e.input.begin(), e.input.end() - 1);
      REQUIRE(e.target[size_t(L - 2)] == modular_answer(expr));
    }
    CHECK(*lengths.begin() == lo);
    CHECK(*lengths.rbegin() == hi);
    CHECK(int64_t(lengths.size()) == (hi - lo) / 2 + 1);
  }
}

TEST_CASE("tasks batches are deterministic and padded to the longest row") {
  ParityTask task(ParityOptions{.seed = 11});
  const Batch a = task.batch(Split::train, 100, 8);
  const Batch b = task.batch(Split::train, 100, 8);
  CHECK(a.input_ids.to_vector() == b.input_ids.to_vector());
  CHECK(a.targets.to_vector() == b.targets.to_vector());
  CHECK(a.input_ids.dtype() == DType::i64);
  CHECK(a.targets.dtype() == DType::i64);
  const int64_t longest = *std::max_element(a.lengths.begin(), a.lengths.end());
  CHECK(a.input_ids.shape() == Shape{8, longest});
  CHECK(a.targets.shape() == Shape{8, longest});
  const std::vector<double> in = a.input_ids.to_vector(), tg = a.targets.to_vector();
  for (int64_t r = 0; r < 8; ++r) {
    CAPTURE(r);
    const Example e = task.example(Split::train, 100 + uint64_t(r));  // row r is example first + r
    REQUIRE(a.lengths[size_t(r)] == int64_t(e.input.size()));
    for (int64_t j = 0; j < longest; ++j) {
      const bool inside = j < int64_t(e.input.size());
      CHECK(in[size_t(r * longest + j)] == double(inside ? e.input[size_t(j)] : kPad));
      CHECK(tg[size_t(r * longest + j)] == double(inside ? e.target[size_t(j)] : kIgnore));
    }
  }
  // A batch's rows do not depend on how the batches are cut.
  const Batch tail = task.batch(Split::train, 104, 2);
  CHECK(tail.lengths == std::vector<int64_t>(a.lengths.begin() + 4, a.lengths.begin() + 6));
  // Different index, split or seed -> different example.
  ParityTask other_seed(ParityOptions{.seed = 12});
  int same_index = 0, same_split = 0, same_seed = 0;
  for (uint64_t i = 0; i < 50; ++i) {
    const Example e = task.example(Split::validation, i);
    same_index += e.input == task.example(Split::validation, i + 1).input;
    same_split += e.input == task.example(Split::test, i).input;
    same_seed += e.input == other_seed.example(Split::validation, i).input;
  }
  CHECK(same_index == 0);
  CHECK(same_split == 0);
  CHECK(same_seed == 0);
}

TEST_CASE("tasks mqar queries and supervised positions") {
  MqarOptions options;
  options.seed = 5;
  options.vocab_size = 140;
  options.eval_pairs = 64;
  options.eval_length = 512;
  MqarTask task(options);
  CHECK(task.vocab_size() == 140);
  std::set<int64_t> pair_counts;
  for (Split split : {Split::train, Split::test}) {
    for (uint64_t i = 0; i < 200; ++i) {
      CAPTURE(i);
      const Example e = task.example(split, i);
      const int64_t T = int64_t(e.input.size());
      REQUIRE(T == (split == Split::train ? 128 : 512));
      const int64_t P = count_supervised(e);
      if (split == Split::train) {
        REQUIRE(P >= 4);
        REQUIRE(P <= 16);
        pair_counts.insert(P);
      } else {
        REQUIRE(P == 64);
      }
      // Context: P distinct keys, each followed by a value.
      std::map<int64_t, int64_t> value_of;
      for (int64_t p = 0; p < P; ++p) {
        const int64_t key = e.input[size_t(2 * p)], value = e.input[size_t(2 * p + 1)];
        REQUIRE((key >= 1 && key < 70));
        REQUIRE((value >= 70 && value < 140));
        REQUIRE(value_of.count(key) == 0);
        value_of[key] = value;
        REQUIRE(e.target[size_t(2 * p)] == kIgnore);
        REQUIRE(e.target[size_t(2 * p + 1)] == kIgnore);
      }
      // Queries: exactly the key positions after the context are supervised, each key once,
      // with the value that follows it (= its context value).
      std::set<int64_t> asked;
      for (int64_t j = 2 * P; j < T; ++j) {
        const int64_t token = e.input[size_t(j)];
        const bool is_key = token >= 1 && token < 70 && (j - 2 * P) % 2 == 0;
        REQUIRE((e.target[size_t(j)] != kIgnore) == is_key);
        if (!is_key) continue;
        REQUIRE(value_of.count(token) == 1);
        REQUIRE(asked.insert(token).second);
        REQUIRE(e.target[size_t(j)] == e.input[size_t(j + 1)]);
        REQUIRE(e.input[size_t(j + 1)] == value_of[token]);
      }
      REQUIRE(int64_t(asked.size()) == P);
    }
  }
  CHECK(*pair_counts.begin() == 4);
  CHECK(*pair_counts.rbegin() == 16);
}

TEST_CASE("tasks supervised accuracy per query and per sequence") {
  MqarTask task;
  const Batch batch = task.batch(Split::validation, 0, 4);
  std::vector<double> predicted = batch.targets.to_vector();
  const int64_t T = batch.targets.size(1);
  int64_t supervised = 0, wrong_at = -1;
  for (int64_t k = 0; k < int64_t(predicted.size()); ++k) {
    if (predicted[size_t(k)] == kIgnore) predicted[size_t(k)] = 0;  // unsupervised positions do not count
    else if (++supervised == 3) wrong_at = k, predicted[size_t(k)] = 0;
  }
  const Accuracy acc = supervised_accuracy(from_vector(predicted, {4, T}, DType::i64), batch.targets);
  CHECK(acc.supervised == 4 * 16);
  CHECK(acc.correct == 4 * 16 - 1);
  CHECK(wrong_at / T == 0);
  CHECK(acc.sequences == 4);
  CHECK(acc.sequences_all_correct == 3);
  CHECK(acc.token_accuracy() == doctest::Approx(63.0 / 64.0));
  CHECK(acc.sequence_accuracy() == doctest::Approx(0.75));
  CHECK_THROWS_WITH_AS(supervised_accuracy(batch.targets.slice(1, 0, 3), batch.targets),
                       doctest::Contains("same [B, T] shape"), Error);
}

TEST_CASE("tasks text windows split by position") {
  ScratchDir dir;
  std::vector<unsigned char> bytes(1000);
  uint32_t state = 12345;
  for (auto& b : bytes) state = state * 1664525u + 1013904223u, b = static_cast<unsigned char>(state >> 24);
  write_bytes(dir.file("data.txt"), bytes);
  TextTask task(TextOptions{dir.file("data.txt"), 16, 1});
  CHECK(task.vocab_size() == 256);
  CHECK(task.part(Split::train) == std::pair<int64_t, int64_t>{0, 900});
  CHECK(task.part(Split::validation) == std::pair<int64_t, int64_t>{900, 1000});
  for (Split split : {Split::train, Split::validation}) {
    const auto [begin, end] = task.part(split);
    for (uint64_t i = 0; i < 100; ++i) {
      const Example e = task.example(split, i);
      REQUIRE(e.input.size() == 16);
      REQUIRE(e.target.size() == 16);
      // The window (input then its last target) appears in the split's part of the file.
      std::vector<int64_t> window = e.input;
      window.push_back(e.target.back());
      for (size_t j = 0; j + 1 < 16; ++j) REQUIRE(e.target[j] == e.input[j + 1]);
      bool found = false;
      for (int64_t s = begin; s + 17 <= end && !found; ++s)
        found = std::equal(window.begin(), window.end(), bytes.begin() + s);
      REQUIRE(found);
    }
  }
  const Batch batch = task.batch(Split::train, 0, 3);
  CHECK(batch.input_ids.shape() == Shape{3, 16});
  CHECK(batch.lengths == std::vector<int64_t>{16, 16, 16});
}

TEST_CASE("tasks token files uint16 and uint32") {
  ScratchDir dir;
  std::vector<uint32_t> ids(300);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = uint32_t((i * 7919) % 70000);
  SUBCASE("uint32 plain") {
    std::vector<unsigned char> bytes;
    for (uint32_t id : ids) append_le(bytes, id, 4);
    write_bytes(dir.file("t.bin"), bytes);
    CHECK(read_token_file(dir.file("t.bin"), TokenWidth::u32, 70000) == ids);
  }
  SUBCASE("uint16 plain and with an llm.c header") {
    std::vector<uint32_t> small(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) small[i] = ids[i] % 50000;
    std::vector<unsigned char> body;
    for (uint32_t id : small) append_le(body, id, 2);
    write_bytes(dir.file("plain.bin"), body);
    CHECK(read_token_file(dir.file("plain.bin"), TokenWidth::u16, 50000) == small);
    std::vector<unsigned char> headed;
    append_le(headed, 20240520, 4);
    append_le(headed, 1, 4);
    append_le(headed, uint32_t(small.size()), 4);
    headed.resize(1024, 0);
    headed.insert(headed.end(), body.begin(), body.end());
    write_bytes(dir.file("headed.bin"), headed);
    CHECK(read_token_file(dir.file("headed.bin"), TokenWidth::u16, 50000) == small);
    TaskOptions o;
    o.data_path = dir.file("headed.bin");
    o.vocab_size = 50000;
    o.seq_len = 8;
    const auto task = make_task("tokens", o);
    CHECK(task->name() == "tokens");
    CHECK(task->vocab_size() == 50000);
    const Example e = task->example(Split::validation, 0);
    bool found = false;
    for (size_t s = 270; s + 9 <= small.size() && !found; ++s)
      found = std::equal(e.input.begin(), e.input.end(), small.begin() + long(s)) && e.target.back() == small[s + 8];
    CHECK(found);
  }
}

TEST_CASE("tasks make_task builds every known task") {
  ScratchDir dir;
  write_bytes(dir.file("t.txt"), std::vector<unsigned char>(400, 'a'));
  TaskOptions o;
  o.data_path = dir.file("t.txt");
  o.seq_len = 32;
  for (const std::string& name : {"parity", "modular_arithmetic", "mqar", "text"}) {
    CAPTURE(name);
    const auto task = make_task(name, o);
    CHECK(task->name() == name);
    CHECK(task->batch(Split::train, 0, 2).input_ids.size(0) == 2);
  }
  CHECK(known_tasks().size() == 5);
}

TEST_CASE("tasks evaluation lengths of your choice for parity and modular arithmetic") {
  TaskOptions o;
  o.eval_lengths = LengthRange{13, 21};
  for (const std::string& name : {"parity", "modular_arithmetic"}) {
    CAPTURE(name);
    const auto task = make_task(name, o);
    std::set<int64_t> lengths;
    for (uint64_t i = 0; i < 2000; ++i) lengths.insert(task->length_of(task->example(Split::validation, i)));
    CHECK(*lengths.begin() == 13);
    CHECK(*lengths.rbegin() == 21);
    // The training split keeps its own lengths.
    CHECK(task->length_of(task->example(Split::train, 0)) <= 40);
  }
  o.eval_lengths = LengthRange{2, 21};
  CHECK_THROWS_WITH_AS(make_task("parity", o), doctest::Contains("3 <= MIN <= MAX, got 2-21"), Error);
  o.eval_lengths = LengthRange{30, 21};
  CHECK_THROWS_WITH_AS(make_task("modular_arithmetic", o), doctest::Contains("got 30-21"), Error);
  o.eval_lengths = LengthRange{13, 21};
  CHECK_THROWS_WITH_AS(make_task("mqar", o), doctest::Contains("parity and modular_arithmetic only, not for 'mqar'"),
                       Error);
}

TEST_CASE("tasks bad inputs") {
  ScratchDir dir;
  TaskOptions o;
  CHECK_THROWS_WITH_AS(make_task("sorting", o), doctest::Contains("known tasks: parity, modular_arithmetic, mqar"),
                       Error);
  // Text files.
  CHECK_THROWS_WITH_AS(TextTask(TextOptions{dir.file("missing.txt"), 8, 0}), doctest::Contains("cannot open"), Error);
  write_bytes(dir.file("empty.txt"), {});
  CHECK_THROWS_WITH_AS(TextTask(TextOptions{dir.file("empty.txt"), 8, 0}), doctest::Contains("is empty"), Error);
  write_bytes(dir.file("short.txt"), std::vector<unsigned char>(8, 'x'));
  CHECK_THROWS_WITH_AS(TextTask(TextOptions{dir.file("short.txt"), 8, 0}),
                       doctest::Contains("fewer than sequence length + 1 = 9"), Error);
  write_bytes(dir.file("mid.txt"), std::vector<unsigned char>(40, 'x'));  // validation part: 4 bytes
  CHECK_THROWS_WITH_AS(TextTask(TextOptions{dir.file("mid.txt"), 8, 0}), doctest::Contains("the validation part"),
                       Error);
  CHECK_THROWS_WITH_AS(TextTask(TextOptions{dir.file("mid.txt"), 0, 0}), doctest::Contains("sequence length"), Error);
  // Token files.
  write_bytes(dir.file("odd.bin"), {1, 0, 2});
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("odd.bin"), TokenWidth::u16, 10),
                       doctest::Contains("not a multiple of the element size 2"), Error);
  write_bytes(dir.file("six.bin"), {1, 0, 0, 0, 2, 0});
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("six.bin"), TokenWidth::u32, 10),
                       doctest::Contains("not a multiple of the element size 4"), Error);
  write_bytes(dir.file("big.bin"), {1, 0, 9, 0, 10, 0});
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("big.bin"), TokenWidth::u16, 10),
                       doctest::Contains("byte offset 4 (token 2): id 10 >= vocab size 10"), Error);
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("big.bin"), TokenWidth::u16, 0), doctest::Contains("vocab size"),
                       Error);
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("missing.bin"), TokenWidth::u16, 10), doctest::Contains("cannot open"),
                       Error);
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("empty.txt"), TokenWidth::u16, 10), doctest::Contains("is empty"),
                       Error);
  std::vector<unsigned char> headed;
  append_le(headed, 20240520, 4);
  append_le(headed, 1, 4);
  append_le(headed, 5, 4);  // declares 5 tokens, 3 follow
  headed.resize(1024 + 6, 0);
  write_bytes(dir.file("headed.bin"), headed);
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("headed.bin"), TokenWidth::u16, 10),
                       doctest::Contains("header declaring 5 tokens"), Error);
  std::vector<unsigned char> header_only = headed;
  header_only.resize(1024);
  header_only[8] = 0;
  write_bytes(dir.file("header_only.bin"), header_only);
  CHECK_THROWS_WITH_AS(read_token_file(dir.file("header_only.bin"), TokenWidth::u16, 10),
                       doctest::Contains("no tokens after its header"), Error);
  // Task settings.
  CHECK_THROWS_WITH_AS(ParityTask(ParityOptions{.train_lengths = {5, 4}}), doctest::Contains("parity: length range"),
                       Error);
  CHECK_THROWS_WITH_AS(ModularArithmeticTask(ModularArithmeticOptions{.eval_lengths = {40, 300}}),
                       doctest::Contains("modular_arithmetic: length range"), Error);
  CHECK_THROWS_WITH_AS(MqarTask(MqarOptions{.vocab_size = 63}), doctest::Contains("even"), Error);
  CHECK_THROWS_WITH_AS(MqarTask(MqarOptions{.eval_pairs = 32, .eval_length = 256}),
                       doctest::Contains("eval pairs must be in [1, 31]"), Error);
  CHECK_THROWS_WITH_AS(MqarTask(MqarOptions{.train_pairs_max = 40, .train_length = 128}),
                       doctest::Contains("train pairs must be in [1, 31]"), Error);
  CHECK_THROWS_WITH_AS(MqarTask(MqarOptions{.eval_pairs = 16, .eval_length = 60}),
                       doctest::Contains("eval length must be >= 4 * pairs = 64"), Error);
  CHECK_THROWS_WITH_AS(MqarTask(MqarOptions{.train_pairs_min = 9, .train_pairs_max = 8}),
                       doctest::Contains("is empty"), Error);
  CHECK_THROWS_WITH_AS(ParityTask().batch(Split::train, 0, 0), doctest::Contains("batch size must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(form_answer_example({1, 2}, 2), doctest::Contains("answer position"), Error);
}

}  // TEST_SUITE
