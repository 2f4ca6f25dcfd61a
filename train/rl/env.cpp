#include "train/rl/env.h"

#include "engine/error.h"
#include "train/rl/key_to_door.h"
#include "train/rl/tmaze.h"
#include "train/rl/visual_match.h"

namespace hqlt::train::rl {

const std::vector<std::string>& env_names() {
  static const std::vector<std::string> names = {"passive_tmaze", "active_tmaze", "visual_match", "key_to_door"};
  return names;
}

std::unique_ptr<Env> make_env(const EnvOptions& o) {
  HQLT_CHECK(o.length >= 0, "--length must be positive, got ", o.length);
  // The defaults are the reference configurations' (§1.1, §1.3, §1.4); the paper's Visual
  // Match run uses 750.
  const auto length_or = [&](int64_t fallback) { return o.length > 0 ? o.length : fallback; };
  if (o.name == "passive_tmaze") return std::make_unique<TMaze>(false, length_or(10), o.seed);
  if (o.name == "active_tmaze") return std::make_unique<TMaze>(true, length_or(10), o.seed);
  if (o.name == "visual_match") return std::make_unique<VisualMatch>(length_or(60), o.seed);
  if (o.name == "key_to_door") return std::make_unique<KeyToDoor>(length_or(60), o.seed);
  std::string known;
  for (const std::string& n : env_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown environment '", o.name, "' (known: ", known, ")");
}

}  // namespace hqlt::train::rl
