// The JSON reader (io/json.h), on any bytes. Beyond "accept or refuse cleanly": whatever it
// accepts must survive a round trip, dump() then parse() giving an equal value, in both
// the compact and the indented layout.
#include <cstdlib>

#include "io/json.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hqlt::io::Json;
  hqlt::fuzz::refused_or_accepted([&] {
    const Json value = Json::parse(hqlt::fuzz::as_text(data, size));
    for (int indent : {-1, 2})
      if (!(Json::parse(value.dump(indent)) == value)) std::abort();
  });
  return 0;
}
