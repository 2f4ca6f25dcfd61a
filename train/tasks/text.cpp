#include "train/tasks/text.h"

namespace hqlt::train {

namespace {
std::vector<uint32_t> bytes_as_tokens(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file_bytes(path, "text");
  return std::vector<uint32_t>(bytes.begin(), bytes.end());
}
}  // namespace

TextTask::TextTask(const TextOptions& o)
    : TokenStreamTask("text", o.path, bytes_as_tokens(o.path), kByteVocab, o.seq_len, o.seed) {}

}  // namespace hqlt::train
