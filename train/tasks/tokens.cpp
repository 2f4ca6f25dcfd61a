#include "train/tasks/tokens.h"

#include "engine/error.h"

namespace hqlt::train {

namespace {
constexpr int64_t kHeaderInts = 256;       // llm.c: 256 int32 before the tokens
constexpr uint32_t kHeaderMagic = 20240520;

uint32_t little_endian(const unsigned char* p, int64_t bytes) {
  uint32_t v = 0;
  for (int64_t b = bytes - 1; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}
}  // namespace

std::vector<uint32_t> read_token_file(const std::string& path, TokenWidth width, int64_t vocab_size) {
  HQLT_CHECK(vocab_size > 0, "tokens: vocab size must be positive (from the model config), got ", vocab_size);
  const std::vector<unsigned char> bytes = read_file_bytes(path, "tokens");
  const int64_t element = width == TokenWidth::u16 ? 2 : 4;
  const int64_t size = int64_t(bytes.size());
  int64_t first = 0;
  if (size >= 4 * kHeaderInts && little_endian(bytes.data(), 4) == kHeaderMagic) {
    first = 4 * kHeaderInts;
    const int64_t declared = int64_t(little_endian(bytes.data() + 8, 4));
    HQLT_CHECK(declared * element == size - first, "tokens: '", path, "' has an llm.c header declaring ", declared,
               " tokens of ", element, " bytes, but ", size - first, " bytes follow the header");
  }
  HQLT_CHECK((size - first) % element == 0, "tokens: '", path, "' holds ", size - first,
             " bytes of tokens, not a multiple of the element size ", element, " (uint", 8 * element, ")");
  std::vector<uint32_t> ids(size_t((size - first) / element));
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t at = first + int64_t(i) * element;
    ids[i] = little_endian(bytes.data() + at, element);
    HQLT_CHECK(int64_t(ids[i]) < vocab_size, "tokens: '", path, "' byte offset ", at, " (token ", i, "): id ",
               ids[i], " >= vocab size ", vocab_size);
  }
  HQLT_CHECK(!ids.empty(), "tokens: '", path, "' holds no tokens after its header");
  return ids;
}

TokensTask::TokensTask(const TokensOptions& o)
    : TokenStreamTask("tokens", o.path, read_token_file(o.path, o.width, o.vocab_size), o.vocab_size, o.seq_len,
                      o.seed) {}

}  // namespace hqlt::train
