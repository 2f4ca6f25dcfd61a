#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace hqlt::io {
namespace {

namespace fs = std::filesystem;

class FdSink : public FileSink {
 public:
  FdSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  void write(const void* data, size_t bytes) override {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      ssize_t n = ::write(fd_, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      HQLT_CHECK(n > 0, "cannot write '", path_, "': ", std::strerror(errno));
      p += n;
      bytes -= size_t(n);
    }
  }

 private:
  int fd_;
  const std::string& path_;
};

// A name no other writer (thread or process) uses at the same time.
std::string temporary_path_for(const fs::path& target) {
  static std::atomic<uint64_t> counter{0};
  fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  return (folder / name).string();
}

// fsync of the folder, so the rename is on disk too (best effort: some file systems refuse).
void sync_folder(const fs::path& target) {
  fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(FileSink&)>& fill) {
  HQLT_CHECK(!path.empty(), "write_file_atomically: the path is empty");
  const fs::path target(path);
  HQLT_CHECK(!fs::is_directory(target), "cannot write '", path, "': it is a folder");
  const std::string temp = temporary_path_for(target);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  HQLT_CHECK(fd >= 0, "cannot write '", path, "': cannot create a temporary file in its folder: ",
             std::strerror(errno));
  try {
    FdSink sink(fd, path);
    fill(sink);
    HQLT_CHECK(::fsync(fd) == 0, "cannot write '", path, "': fsync failed: ", std::strerror(errno));
    int rc = ::close(fd);
    fd = -1;
    HQLT_CHECK(rc == 0, "cannot write '", path, "': close failed: ", std::strerror(errno));
    HQLT_CHECK(::rename(temp.c_str(), path.c_str()) == 0, "cannot write '", path, "': rename failed: ",
               std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  sync_folder(target);
}

}  // namespace hqlt::io
