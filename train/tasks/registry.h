#pragma once
// make_task: the task named on the command line, built from one bag of options. Each task
// reads only the options it needs; an unknown name is an error listing the known ones.
#include <memory>
#include <string>
#include <vector>

#include "train/tasks/mqar.h"
#include "train/tasks/parity.h"
#include "train/tasks/task.h"
#include "train/tasks/tokens.h"

namespace hqlt::train {

struct TaskOptions {
  uint64_t seed = 0;
  std::string data_path;                // text, tokens
  int64_t seq_len = 256;                // text, tokens: window length T
  TokenWidth token_width = TokenWidth::u16;  // tokens
  int64_t vocab_size = 0;               // tokens (from the model config)
  uint64_t curriculum_examples = 0;     // parity, modular_arithmetic: see curriculum_range
  int64_t curriculum_start = 0;
  LengthRange eval_lengths;             // parity, modular_arithmetic: validation/test L (0: the task's)
  MqarOptions mqar;                     // mqar (its seed is replaced by `seed`)
};

std::vector<std::string> known_tasks();  // parity, modular_arithmetic, mqar, text, tokens
std::unique_ptr<Task> make_task(const std::string& name, const TaskOptions& options);

}  // namespace hqlt::train
