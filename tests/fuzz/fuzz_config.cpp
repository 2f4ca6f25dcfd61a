// The model config reader (models/config_json.h), on any bytes taken as a config.json.
// Whatever it accepts must be written back and read again to the same config: writing
// the config read from the written file gives the same JSON.
#include <cstdlib>

#include "io/json.h"
#include "models/config_json.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt;
  fuzz::refused_or_accepted([&] {
    const io::Json written = models::config_to_json(
        models::config_from_json(io::Json::parse(fuzz::as_text(data, size))).config);
    const io::Json rewritten = models::config_to_json(models::config_from_json(written).config);
    if (!(rewritten == written)) std::abort();
  });
  return 0;
}
