// The safetensors reader (io/safetensors.h), which reads both checkpoint files
// (model.safetensors, training_state.safetensors), on any bytes: the header alone, then
// header and data. Whatever it accepts must hold exactly the bytes its header promised.
#include <cstdlib>

#include "io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt::io;
  const std::string path = hqlt::fuzz::write_input_file(data, size, ".safetensors");
  hqlt::fuzz::refused_or_accepted([&] { read_safetensors_header(path); });
  hqlt::fuzz::refused_or_accepted([&] {
    const SafetensorsFile file = load_safetensors(path);
    uint64_t bytes = 0;
    for (const auto& [name, tensor] : file.tensors) bytes += uint64_t(tensor.numel());
    if (bytes > size) std::abort();  // more elements than the file has bytes
  });
  return 0;
}
