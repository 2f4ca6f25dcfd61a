#include "train/metrics_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace hqlt::train {

namespace {

[[noreturn]] void io_error(const std::string& what, const std::string& path) {
  fail("metrics log ", path, ": ", what, ": ", std::strerror(errno));
}

// Cuts a partial last line (no trailing newline) off the end of the open file, scanning
// backwards in blocks for the last newline.
void drop_partial_last_line(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) io_error("cannot stat", path);
  off_t end = st.st_size;
  if (end == 0) return;
  char last = 0;
  if (::pread(fd, &last, 1, end - 1) != 1) io_error("cannot read", path);
  if (last == '\n') return;
  off_t keep = 0;  // bytes to keep: up to and including the last newline
  char block[4096];
  for (off_t hi = end; hi > 0 && keep == 0;) {
    off_t lo = hi > off_t(sizeof block) ? hi - off_t(sizeof block) : 0;
    ssize_t got = ::pread(fd, block, size_t(hi - lo), lo);
    if (got != ssize_t(hi - lo)) io_error("cannot read", path);
    for (off_t i = hi - lo; i > 0; --i)
      if (block[i - 1] == '\n') {
        keep = lo + i;
        break;
      }
    hi = lo;
  }
  if (::ftruncate(fd, keep) != 0) io_error("cannot truncate the partial last line", path);
}

}  // namespace

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) io_error("cannot open for appending", path_);
  try {
    drop_partial_last_line(fd_, path_);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::write(const io::Json::Object& record) {
  std::string line = io::Json(record).dump() + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) io_error("cannot append a line", path_);
    done += size_t(n);
  }
  if (::fsync(fd_) != 0) io_error("cannot sync to disk", path_);
}

std::vector<io::Json> read_metrics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HQLT_CHECK(in, "metrics log ", path, ": cannot open for reading");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  std::vector<io::Json> records;
  size_t start = 0;
  for (size_t line_no = 1; start < text.size(); ++line_no) {
    size_t newline = text.find('\n', start);
    bool complete = newline != std::string::npos;
    std::string_view line(text.data() + start, (complete ? newline : text.size()) - start);
    start = complete ? newline + 1 : text.size();
    if (line.empty()) continue;
    try {
      io::Json record = io::Json::parse(line);
      HQLT_CHECK(record.is_object(), "expected a JSON object, got ", record.type_name());
      records.push_back(std::move(record));
    } catch (const Error& e) {
      if (!complete) break;  // the partial line a crash left behind
      fail("metrics log ", path, ": line ", line_no, ": ", e.what());
    }
  }
  return records;
}

}  // namespace hqlt::train
