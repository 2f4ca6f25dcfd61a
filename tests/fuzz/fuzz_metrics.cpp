// The metrics log reader (train/metrics_log.h), which a resumed run and the experiments
// read back from a run folder, on any bytes. Whatever it accepts must survive what a
// resume does to it: truncate_metrics rewrites the records up to a step, and reading the
// rewritten file gives back exactly those records.
#include <cstdlib>

#include "train/metrics_log.h"
#include "train/run_dir.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt;
  const std::string path = fuzz::write_input_file(data, size, ".jsonl");
  fuzz::refused_or_accepted([&] {
    // Compared as text: a record may hold NaN, which is not equal to itself.
    auto text = [](const std::vector<io::Json>& records) {
      std::string out;
      for (const io::Json& r : records) out += r.dump() + "\n";
      return out;
    };
    const int64_t step = 50;
    std::vector<io::Json> kept;
    for (const io::Json& r : train::read_metrics(path))
      if (r.value("step", int64_t(0)) <= step && r.value("split", "") != "test") kept.push_back(r);
    train::truncate_metrics(path, step);
    if (text(train::read_metrics(path)) != text(kept)) std::abort();
  });
  return 0;
}
