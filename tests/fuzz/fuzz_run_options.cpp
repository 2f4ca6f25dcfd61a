// The run-options reader (train_options.json of a run folder, read by --resume), on any
// bytes. Accepted options go through the same checks a resumed run applies (validate) and
// the model config they describe is built, as resuming does.
#include "io/json.h"
#include "train/train_options.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt;
  fuzz::refused_or_accepted([&] {
    train::TrainOptions options = train::options_from_json(io::Json::parse(fuzz::as_text(data, size)));
    train::validate(options);
    train::make_model_config(options, 3);
  });
  return 0;
}
