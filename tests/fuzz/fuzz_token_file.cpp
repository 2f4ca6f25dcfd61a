// The data-file readers: pre-tokenised files (train/tasks/tokens.h) of either width, with
// or without llm.c's header, and byte-level text (train/tasks/text.h), on any bytes. The
// first byte picks the reader and its settings, the rest is the file. Every id read must be
// below the vocabulary, as the reader promises.
#include <cstdlib>

#include "train/tasks/text.h"
#include "train/tasks/tokens.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt::train;
  if (size == 0) return 0;
  const uint8_t choice = data[0];
  const std::string path = hqlt::fuzz::write_input_file(data + 1, size - 1, ".bin");
  if (choice & 1) {
    const int64_t seq_len = 1 + (choice >> 1) % 64;
    hqlt::fuzz::refused_or_accepted([&] { TextTask task(TextOptions{path, seq_len, 0}); });
    return 0;
  }
  const TokenWidth width = (choice & 2) ? TokenWidth::u32 : TokenWidth::u16;
  const int64_t vocab_size = (choice & 4) ? 50257 : 1 + (choice >> 3);
  hqlt::fuzz::refused_or_accepted([&] {
    for (uint32_t id : read_token_file(path, width, vocab_size))
      if (int64_t(id) >= vocab_size) std::abort();
  });
  return 0;
}
