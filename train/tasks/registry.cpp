#include "train/tasks/registry.h"

#include "engine/error.h"
#include "train/tasks/modular_arithmetic.h"
#include "train/tasks/parity.h"
#include "train/tasks/text.h"

namespace hqlt::train {

std::vector<std::string> known_tasks() { return {"parity", "modular_arithmetic", "mqar", "text", "tokens"}; }

std::unique_ptr<Task> make_task(const std::string& name, const TaskOptions& o) {
  const bool own_eval_lengths = o.eval_lengths.max > 0;
  HQLT_CHECK(!own_eval_lengths || name == "parity" || name == "modular_arithmetic",
             "evaluation lengths can be chosen for parity and modular_arithmetic only, not for '", name, "'");
  HQLT_CHECK(!own_eval_lengths || (o.eval_lengths.min >= 3 && o.eval_lengths.min <= o.eval_lengths.max),
             "evaluation lengths must be MIN-MAX with 3 <= MIN <= MAX, got ", o.eval_lengths.min, "-",
             o.eval_lengths.max);
  if (name == "parity") {
    ParityOptions p{.seed = o.seed, .curriculum_examples = o.curriculum_examples, .curriculum_start = o.curriculum_start};
    if (own_eval_lengths) p.eval_lengths = o.eval_lengths;
    return std::make_unique<ParityTask>(p);
  }
  if (name == "modular_arithmetic") {
    ModularArithmeticOptions m{
        .seed = o.seed, .curriculum_examples = o.curriculum_examples, .curriculum_start = o.curriculum_start};
    if (own_eval_lengths) m.eval_lengths = o.eval_lengths;
    return std::make_unique<ModularArithmeticTask>(m);
  }
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
