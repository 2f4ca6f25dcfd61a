#pragma once
// metrics.jsonl: a training run's metrics as JSON lines, one compact JSON object per line,
// e.g. {"step":10,"loss":0.5,"lr":0.0003}, appended as the run goes (encoding: io/json.h,
// so NaN and Infinity from a diverged run survive).
//
// Crash safety: each line goes out in one write() and is fsynced before write returns, so
// a crash loses at most the line being written, which then sits at the end of the file
// without its newline. Opening the log again (a resumed run) cuts such a partial last line
// off before appending, so it never ends up in the middle of the file.
//
// read_metrics parses the file back: a last line without a newline that does not parse is
// that partial line and is dropped; any other line that is not a JSON object throws
// hqlt::Error naming the path and the 1-based line number. Empty lines are skipped.
#include <string>
#include <vector>

#include "io/json.h"

namespace hqlt::train {

class MetricsLog {
 public:
  // Opens path for appending (creating it); throws hqlt::Error naming path on failure.
  explicit MetricsLog(std::string path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends one record as a line and syncs it to disk:
  //   log.write({{"step", 10}, {"loss", 0.5}});
  void write(const io::Json::Object& record);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Every record of a metrics.jsonl file, in order (each a JSON object).
std::vector<io::Json> read_metrics(const std::string& path);

}  // namespace hqlt::train
