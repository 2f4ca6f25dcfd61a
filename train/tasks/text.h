#pragma once
// Byte-level text (docs/math/tasks.md §D.2): any file is a stream of bytes, vocab 256; windows of
// length T with targets shifted by one, 90% / 10% train / validation by position
// (stream.h). Loss is in nats per byte; bits per byte = nats / ln 2.
#include "train/tasks/stream.h"

namespace hqlt::train {

inline constexpr int64_t kByteVocab = 256;  // one token per byte value

struct TextOptions {
  std::string path;
  int64_t seq_len = 256;  // T
  uint64_t seed = 0;
};

// Throws for a missing or empty file, or one too short for a window in either part.
class TextTask : public TokenStreamTask {
 public:
  explicit TextTask(const TextOptions& options);
};

}  // namespace hqlt::train
