#pragma once
// A task over one long token stream (docs/math/tasks.md §D.2, §D.3): the first 90% of the stream
// (by position) is training data, the last 10% validation (the test split reads the validation
// part too). Example i of a split is a window at a start s drawn uniformly from the split's
// part: input = stream[s .. s+T−1], target = stream[s+1 .. s+T] ([T] each, all supervised),
// so the whole window including its last target lies inside the part.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/tasks/task.h"

namespace hqlt::train {

class TokenStreamTask : public Task {
 public:
  // `source` names the data in errors (the file path). Each part must hold ≥ T + 1 tokens.
  TokenStreamTask(std::string task_name, std::string source, std::vector<uint32_t> stream, int64_t vocab_size,
                  int64_t seq_len, uint64_t seed);
  std::string name() const override { return name_; }
  int64_t vocab_size() const override { return vocab_size_; }
  Example example(Split split, uint64_t index) const override;

  // [begin, end) of the split's part of the stream.
  std::pair<int64_t, int64_t> part(Split split) const;
  const std::vector<uint32_t>& stream() const { return stream_; }

 private:
  std::string name_;
  std::vector<uint32_t> stream_;
  int64_t vocab_size_, seq_len_, train_end_;
  uint64_t seed_;
};

// The whole file as bytes; a missing, unreadable or empty file is an error naming `who`.
std::vector<unsigned char> read_file_bytes(const std::string& path, const std::string& who);

}  // namespace hqlt::train
