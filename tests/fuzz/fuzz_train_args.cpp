// `hqlt train`'s command line (cli/train_flags.h), on any bytes: split at newlines into
// arguments, read as the command reads them, then checked and turned into a model config
// as a new run would before it starts training.
#include <string>
#include <vector>

#include "cli/train_flags.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqlt;
  std::vector<std::string> args;
  if (size > 0) args.emplace_back();
  for (char c : fuzz::as_text(data, size)) {
    if (c == '\n') args.emplace_back();
    else args.back() += c;
  }
  fuzz::refused_or_accepted([&] {
    cli::TrainCommand command = cli::parse_train_command(args);
    if (command.help || !command.resume_dir.empty()) return;
    train::validate(command.options);
    train::make_model_config(command.options, 3);
  });
  return 0;
}
