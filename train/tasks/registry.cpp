#include "train/tasks/registry.h"

#include "engine/error.h"
#include "train/tasks/modular_arithmetic.h"
#include "train/tasks/parity.h"
#include "train/tasks/text.h"

namespace hqlt::train {

std::vector<std::string> known_tasks() { return {"parity", "modular_arithmetic", "mqar", "text", "tokens"}; }

std::unique_ptr<Task> make_task(const std::string& name, const TaskOptions& o) {
  if (name == "parity") return std::make_unique<ParityTask>(ParityOptions{
        .seed = o.seed, .curriculum_examples = o.curriculum_examples, .curriculum_start = o.curriculum_start});
  if (name == "modular_arithmetic")
    return std::make_unique<ModularArithmeticTask>(ModularArithmeticOptions{
        .seed = o.seed, .curriculum_examples = o.curriculum_examples, .curriculum_start = o.curriculum_start});
  if (name == "mqar") {
    MqarOptions m = o.mqar;
    m.seed = o.seed;
    return std::make_unique<MqarTask>(m);
  }
  if (name == "text") return std::make_unique<TextTask>(TextOptions{o.data_path, o.seq_len, o.seed});
  if (name == "tokens")
    return std::make_unique<TokensTask>(TokensOptions{o.data_path, o.token_width, o.vocab_size, o.seq_len, o.seed});
  std::string list;
  for (const std::string& known : known_tasks()) list += (list.empty() ? "" : ", ") + known;
  fail("unknown task '", name, "'; known tasks: ", list);
}

}  // namespace hqlt::train
