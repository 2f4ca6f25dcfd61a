#pragma once
// Pre-tokenised files (docs/math/tasks.md §D.3): a flat little-endian array of uint16 or uint32
// token ids, optionally preceded by llm.c's header of 256 int32 (magic 20240520, version, token
// count, then zeros), recognised by its magic number. The vocab size comes from the model
// config; every id must be below it. Windows and splits as in stream.h.
#include "train/tasks/stream.h"

namespace hqlt::train {

enum class TokenWidth { u16, u32 };

struct TokensOptions {
  std::string path;
  TokenWidth width = TokenWidth::u16;
  int64_t vocab_size = 0;  // from the model config
  int64_t seq_len = 256;   // T
  uint64_t seed = 0;
};

// The ids of a token file. Errors: missing or empty file, a size (after the header) that is
// not a multiple of the element size, a header whose token count disagrees with the size,
// an id ≥ vocab_size (named with its byte offset in the file).
std::vector<uint32_t> read_token_file(const std::string& path, TokenWidth width, int64_t vocab_size);

class TokensTask : public TokenStreamTask {
 public:
  explicit TokensTask(const TokensOptions& options);
};

}  // namespace hqlt::train
