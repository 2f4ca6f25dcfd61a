#pragma once
// Writing a file so that readers only ever see the old version or the complete new one:
// the bytes go to a temporary file in the same folder (".<name>.tmp.<pid>.<n>"), which is
// flushed to disk (fsync) and then renamed over the target (an atomic replace on POSIX
// file systems); the folder is fsynced too, so the rename itself survives a crash.
//
// If anything fails — the writer callback throws, the disk fills up, the rename is
// refused — the temporary file is removed, the target is left as it was, and hqlt::Error
// is thrown naming the path (the callback's own hqlt::Error is passed on unchanged).
#include <cstddef>
#include <functional>
#include <string>

namespace hqlt::io {

// The sink handed to the callback: write() appends bytes (throwing on an I/O error).
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void write(const void* data, size_t bytes) = 0;
  void write(const std::string& s) { write(s.data(), s.size()); }
};

void write_file_atomically(const std::string& path, const std::function<void(FileSink&)>& fill);

}  // namespace hqlt::io
