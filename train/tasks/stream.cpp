#include "train/tasks/stream.h"

#include <fstream>
#include <iterator>

#include "engine/error.h"

namespace hqlt::train {

TokenStreamTask::TokenStreamTask(std::string task_name, std::string source, std::vector<uint32_t> stream,
                                 int64_t vocab_size, int64_t seq_len, uint64_t seed)
    : name_(std::move(task_name)), stream_(std::move(stream)), vocab_size_(vocab_size), seq_len_(seq_len),
      seed_(seed) {
  HQLT_CHECK(seq_len_ >= 1, name_, ": sequence length must be >= 1, got ", seq_len_);
  const int64_t n = int64_t(stream_.size());
  HQLT_CHECK(n >= seq_len_ + 1, name_, ": '", source, "' holds ", n, " tokens, fewer than sequence length + 1 = ",
             seq_len_ + 1);
  train_end_ = n - n / 10;  // the last 10% (rounded down) is validation
  for (Split split : {Split::train, Split::validation}) {
    const auto [begin, end] = part(split);
    HQLT_CHECK(end - begin >= seq_len_ + 1, name_, ": the ", split_name(split), " part of '", source, "' holds ",
               end - begin, " tokens (of ", n, "), fewer than sequence length + 1 = ", seq_len_ + 1);
  }
}

std::pair<int64_t, int64_t> TokenStreamTask::part(Split split) const {
  if (split == Split::train) return {0, train_end_};
  return {train_end_, int64_t(stream_.size())};
}

Example TokenStreamTask::example(Split split, uint64_t index) const {
  ExampleRng rng(seed_, split, index);
  const auto [begin, end] = part(split);
  const int64_t start = rng.integer(begin, end - seq_len_ - 1);
  Example e;
  e.input.assign(stream_.begin() + start, stream_.begin() + start + seq_len_);
  e.target.assign(stream_.begin() + start + 1, stream_.begin() + start + seq_len_ + 1);
  return e;
}

std::vector<unsigned char> read_file_bytes(const std::string& path, const std::string& who) {
  std::ifstream in(path, std::ios::binary);
  HQLT_CHECK(in.good(), who, ": cannot open data file '", path, "'");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  HQLT_CHECK(!in.bad(), who, ": error reading data file '", path, "'");
  HQLT_CHECK(!bytes.empty(), who, ": data file '", path, "' is empty");
  return bytes;
}

}  // namespace hqlt::train
