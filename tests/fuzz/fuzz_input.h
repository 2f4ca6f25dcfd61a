#pragma once
// What every fuzz target shares: the contract it checks and a way to hand bytes to a
// reader that takes a path.
//
// The contract for a reader of untrusted input: it either accepts the input or throws one
// hqlt::Error (which the CLI prints as one line). Anything else is a finding: a sanitizer
// report, a crash, a hang, or any other exception escaping (std::bad_alloc from a size
// taken on trust, std::out_of_range from an unchecked index, ...), which libFuzzer reports
// as a crash because refused() lets it propagate.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "engine/error.h"

namespace hqlt::fuzz {

// Runs read(); an hqlt::Error is the reader refusing the input, which is fine.
template <typename Read>
void refused_or_accepted(Read&& read) {
  try {
    read();
  } catch (const hqlt::Error&) {
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A file holding exactly the fuzzer's bytes, in the temporary folder (one per process,
// rewritten per input).
inline std::string write_input_file(const uint8_t* data, size_t size, const char* suffix) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("hqlt-fuzz-" + std::to_string(::getpid()) + suffix)).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                std::streamsize(size));
  return path;
}

}  // namespace hqlt::fuzz
